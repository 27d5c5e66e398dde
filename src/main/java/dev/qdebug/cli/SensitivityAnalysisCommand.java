package dev.qdebug.cli;

import dev.qdebug.debug.Debugger;
import dev.qdebug.debug.PartialQuantization;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import tech.tablesaw.api.ColumnType;
import tech.tablesaw.api.Table;

/** {@code sensitivity-analysis}: the partial-quantization curve. */
@Command(
    name = "sensitivity-analysis",
    description =
        "Output cosine of the calibrated model with the most sensitive nodes left in float one by"
            + " one (cumulative), and of each node quantized alone.")
public final class SensitivityAnalysisCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin AnalysisOptions analysis;

  @Option(
      names = "--pick-threshold",
      defaultValue = "0.999",
      description = "sensitive nodes: output cosine at most this when quantized alone")
  double pickThreshold;

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(1);

  @Option(
      names = "--sensitive-nodes",
      split = ",",
      description = "analyse these nodes in this order instead of picking them")
  List<String> sensitiveNodes;

  @Mixin AnalysisOptions.SaveDir saveDir;

  @Override
  public Integer call() {
    PartialQuantization.Options o =
        PartialQuantization.Options.defaults()
            .pickThreshold(pickThreshold)
            .dataNum(dataNum.get())
            .sensitiveNodes(
                sensitiveNodes == null
                    ? null
                    : sensitiveNodes.stream().map(String::strip).toList());
    try (Debugger dbg = analysis.open()) {
      PartialQuantization.Result r = dbg.sensitivityAnalysis(o);
      saveDir.save(r);
      spec.commandLine().getOut().print(format(r.table()));
      spec.commandLine()
          .getOut()
          .println(
              "wrote "
                  + saveDir.resolve("partial_quantization.html")
                  + ", "
                  + saveDir.resolve("partial_quantization.csv"));
    }
    return 0;
  }

  /** A table as aligned text: numbers with 6 decimals, long names shortened from the left. */
  static String format(Table t) {
    int cols = t.columnCount();
    String[][] cells = new String[t.rowCount() + 1][cols];
    for (int c = 0; c < cols; c++) {
      cells[0][c] = t.column(c).name();
      for (int r = 0; r < t.rowCount(); r++) {
        String s;
        if (t.column(c).type() == ColumnType.DOUBLE) {
          double v = t.doubleColumn(c).getDouble(r);
          s = Double.isNaN(v) ? "-" : dev.qdebug.viz.Fmt.num(v);
        } else {
          s = t.getString(r, c);
          if (s.length() > 60) {
            s = "..." + s.substring(s.length() - 57);
          }
        }
        cells[r + 1][c] = s;
      }
    }
    int[] w = new int[cols];
    for (String[] row : cells) {
      for (int c = 0; c < cols; c++) {
        w[c] = Math.max(w[c], row[c].length());
      }
    }
    StringBuilder b = new StringBuilder();
    for (String[] row : cells) {
      for (int c = 0; c < cols; c++) {
        boolean left = c == 0 || t.column(c).type() == ColumnType.STRING;
        String f = "%" + (left ? "-" : "") + w[c] + "s";
        b.append(c == 0 ? "" : "  ").append(String.format(f, row[c]));
      }
      b.append('\n');
    }
    return b.toString();
  }
}
