package dev.qdebug.cli;

import dev.qdebug.debug.CalibrationStats;
import dev.qdebug.debug.Debugger;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code get-calibration-nodes-stat-info}: calibration nodes' parameters beside their data. */
@Command(
    name = "get-calibration-nodes-stat-info",
    description = {
      "Every calibration node's parameters (threshold, scale) beside the statistics of the data it"
          + " quantizes (largest and smallest non-zero |x|, activations on the float model):"
          + " a threshold far below max |x| clips, a huge max / min-non-zero range wants int16.",
      "Per-channel nodes print their largest threshold, scale and max |x| and smallest non-zero"
          + " |x|; --save-dir writes every channel (cali_nodes_stat_info.csv,"
          + " cali_nodes_stat_info.json) and the figures weight_stat_info.html and"
          + " feature_stat_info.html."
    })
public final class GetCalibrationNodesStatInfoCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin AnalysisOptions analysis;

  @Option(names = "--nodes", split = ",", description = "only these calibration nodes")
  List<String> nodes = new ArrayList<>();

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(0);

  @Mixin AnalysisOptions.OptionalSaveDir saveDir;

  @Override
  public Integer call() {
    CalibrationStats.Options o =
        CalibrationStats.Options.defaults()
            .nodes(nodes.stream().map(String::strip).toList())
            .dataNum(dataNum.get());
    PrintWriter out = spec.commandLine().getOut();
    try (Debugger dbg = analysis.open()) {
      CalibrationStats.Result r = dbg.getCalibrationNodesStatInfo(o);
      out.print(format(r.stats()));
      saveDir.save(r);
      if (saveDir.get() != null) {
        out.println(
            "wrote "
                + Stream.of(
                        "cali_nodes_stat_info.csv",
                        "cali_nodes_stat_info.json",
                        "weight_stat_info.html",
                        "feature_stat_info.html")
                    .map(f -> saveDir.get().resolve(f).toString())
                    .collect(Collectors.joining(", ")));
      }
    }
    return 0;
  }

  /** One line per node: over channels, the largest threshold, scale, max |x|, smallest |x| > 0. */
  static String format(List<CalibrationStats.NodeStats> stats) {
    int w = 4;
    for (CalibrationStats.NodeStats s : stats) {
      w = Math.max(w, Math.min(50, s.node().length()));
    }
    String head = "%-" + w + "s  %-10s  %-11s  %-5s  %8s  %13s  %13s  %13s  %13s%n";
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            Locale.ROOT,
            head,
            "node",
            "type",
            "granularity",
            "qtype",
            "channels",
            "threshold",
            "scale",
            "max|x|",
            "min-nz|x|"));
    for (CalibrationStats.NodeStats s : stats) {
      String n = s.node();
      if (n.length() > 50) {
        n = "..." + n.substring(n.length() - 47);
      }
      b.append(
          String.format(
              Locale.ROOT,
              "%-" + w + "s  %-10s  %-11s  %-5s  %8d  %13.6g  %13.6g  %13.6g  %13s%n",
              n,
              s.type(),
              s.granularity(),
              s.qtype(),
              s.maxVals().length,
              s.maxThreshold(),
              s.maxScale(),
              s.maxVal(),
              Double.isNaN(s.minNonZero())
                  ? "-"
                  : String.format(Locale.ROOT, "%.6g", s.minNonZero())));
    }
    return b.toString();
  }
}
