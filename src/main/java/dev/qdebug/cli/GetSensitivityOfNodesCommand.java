package dev.qdebug.cli;

import dev.qdebug.debug.Debugger;
import dev.qdebug.debug.NodeSensitivity;
import dev.qdebug.metrics.Metric;
import dev.qdebug.viz.Html;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import tech.tablesaw.api.Table;

/** {@code get-sensitivity-of-nodes}: the per-node sensitivity ranking. */
@Command(
    name = "get-sensitivity-of-nodes",
    description = "Ranks nodes by how much quantizing each alone moves the outputs.")
public final class GetSensitivityOfNodesCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin AnalysisOptions analysis;

  @Option(names = "--node-type", defaultValue = "node", description = "node, weight or activation")
  String nodeType;

  @Option(names = "--metrics", split = ",", defaultValue = "cosine-similarity",
      description = "cosine-similarity, mse, mre, sqnr, chebyshev; the first sorts")
  List<String> metrics;

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(1);

  @Option(names = "--output-node", split = ",", description = "compare these nodes' outputs")
  List<String> outputNodes = new ArrayList<>();

  @Option(names = "--interested-nodes", split = ",",
      description = "only these nodes; a+b quantizes a and b together")
  List<String> interested;

  @Mixin AnalysisOptions.OptionalSaveDir saveDir;

  @Option(names = "--csv", description = "write node,<metric>... here")
  Path csv;

  @Override
  public Integer call() {
    List<Metric> ms = Metrics.parse(metrics);
    NodeSensitivity.Options o =
        NodeSensitivity.Options.defaults()
            .nodeType(NodeSensitivity.NodeType.parse(nodeType))
            .metrics(ms)
            .outputNodes(outputNodes)
            .dataNum(dataNum.get());
    if (interested != null) {
      o = o.interestedNodes(interested.stream().map(g -> List.of(g.split("\\+"))).toList());
    }
    try (Debugger dbg = analysis.open()) {
      NodeSensitivity.Result r = dbg.getSensitivityOfNodes(o);
      spec.commandLine().getOut().println(format(r.table()));
      saveDir.save(r);
      if (csv != null) {
        Html.writeCsv(csv, r.table());
      }
    }
    return 0;
  }

  static String format(Table t) {
    StringBuilder b = new StringBuilder();
    int w = 4;
    for (String n : t.stringColumn(0).asList()) {
      w = Math.max(w, Math.min(60, n.length()));
    }
    b.append(String.format("%-" + w + "s", "node"));
    for (int c = 1; c < t.columnCount(); c++) {
      b.append(String.format("  %18s", t.column(c).name()));
    }
    b.append('\n');
    for (int r = 0; r < t.rowCount(); r++) {
      String n = t.stringColumn(0).get(r);
      if (n.length() > 60) {
        n = "..." + n.substring(n.length() - 57);
      }
      b.append(String.format("%-" + w + "s", n));
      for (int c = 1; c < t.columnCount(); c++) {
        b.append(String.format("  %18.6f", t.doubleColumn(c).get(r)));
      }
      b.append('\n');
    }
    return b.toString();
  }
}
