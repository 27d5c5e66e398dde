package dev.qdebug.cli;

import dev.qdebug.debug.Debugger;
import dev.qdebug.debug.LayerError;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import tech.tablesaw.api.Table;

/** {@code layer-error} (qdebug's own): local vs accumulated error of every calibration node. */
@Command(
    name = "layer-error",
    description =
        "Local (the node quantized alone) vs accumulated (the whole calibrated model) error of "
            + "every calibration node: Horizon's metrics, SQNR in dB and rmse/scale.")
public final class LayerErrorCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin AnalysisOptions analysis;

  @Option(names = "--nodes", split = ",", description = "only these calibration nodes")
  List<String> nodes = new ArrayList<>();

  @Option(
      names = "--metric",
      defaultValue = "cosine-similarity",
      description =
          "drawn in the figure: cosine-similarity, mse, mre, sqnr, chebyshev, sqnr-db, "
              + "rmse/scale (default ${DEFAULT-VALUE})")
  String metric;

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(1);

  @Mixin AnalysisOptions.OptionalSaveDir saveDir;

  @Override
  public Integer call() {
    LayerError.Options o =
        LayerError.Options.defaults().nodes(nodes).metric(metric.strip()).dataNum(dataNum.get());
    try (Debugger dbg = analysis.open()) {
      LayerError.Result r = dbg.layerError(o);
      spec.commandLine().getOut().println(format(r.table(), o.metric()));
      saveDir.save(r);
    }
    return 0;
  }

  static String format(Table t, String metric) {
    List<String> cols =
        new ArrayList<>(
            List.of(
                "local-" + metric,
                "accumulated-" + metric,
                "local-output-" + metric,
                "accumulated-output-" + metric));
    for (String c :
        List.of(
            "local-" + LayerError.SQNR_DB,
            "accumulated-" + LayerError.SQNR_DB,
            "accumulated-" + LayerError.RMSE_SCALE)) {
      if (!cols.contains(c)) {
        cols.add(c);
      }
    }
    int w = 4;
    for (String n : t.stringColumn("node").asList()) {
      w = Math.max(w, Math.min(50, n.length()));
    }
    StringBuilder b = new StringBuilder(String.format("%-" + w + "s  %-10s", "node", "type"));
    for (String c : cols) {
      b.append(String.format("  %24s", c));
    }
    b.append('\n');
    for (int r = 0; r < t.rowCount(); r++) {
      String n = t.stringColumn("node").get(r);
      if (n.length() > 50) {
        n = "..." + n.substring(n.length() - 47);
      }
      b.append(String.format("%-" + w + "s  %-10s", n, t.stringColumn("type").get(r)));
      for (String c : cols) {
        b.append(String.format(Locale.ROOT, "  %24.6f", t.doubleColumn(c).getDouble(r)));
      }
      b.append('\n');
    }
    return b.toString();
  }
}
