package dev.qdebug.cli;

import dev.qdebug.UsageException;
import dev.qdebug.debug.Debugger;
import dev.qdebug.debug.SensitiveSamples;
import dev.qdebug.metrics.Metric;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import tech.tablesaw.api.Table;

/** {@code select-sensitive-samples}: bad-case mining (HMCT's {@code select_sensitive_samples}). */
@Command(
    name = "select-sensitive-samples",
    description =
        "Ranks the samples by how much the calibrated model's outputs differ from float, worst "
            + "first; --save-dir also writes the worst as calibration data (badcase_data/).")
public final class SelectSensitiveSamplesCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin AnalysisOptions analysis;

  @Option(
      names = "--metric",
      defaultValue = "cosine-similarity",
      description = "cosine-similarity, mse, mre, sqnr, chebyshev (default ${DEFAULT-VALUE})")
  String metric;

  @Option(
      names = "--num-sample",
      defaultValue = "1",
      description = "how many of the worst samples (default ${DEFAULT-VALUE})")
  int numSample;

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(0);

  @Mixin AnalysisOptions.OptionalSaveDir saveDir;

  @Override
  public Integer call() {
    Metric m = Metrics.parse(metric);
    if (saveDir.get() != null
        && analysis.data.toAbsolutePath()
            .normalize()
            .startsWith(saveDir.get().resolve("badcase_data").toAbsolutePath().normalize())) {
      throw new UsageException(
          "--save-dir: "
              + saveDir.get().resolve("badcase_data")
              + " would overwrite the calibration data");
    }
    SensitiveSamples.Options o =
        SensitiveSamples.Options.defaults().metric(m).numSample(numSample).dataNum(dataNum.get());
    try (Debugger dbg = analysis.open()) {
      SensitiveSamples.Result r = dbg.selectSensitiveSamples(o);
      spec.commandLine().getOut().println(format(r.table()));
      saveDir.save(r);
    }
    return 0;
  }

  static String format(Table t) {
    StringBuilder b = new StringBuilder(String.format("%4s  %6s", "rank", "sample"));
    for (int c = 2; c < t.columnCount(); c++) {
      b.append(String.format("  %18s", t.column(c).name()));
    }
    b.append('\n');
    for (int r = 0; r < t.rowCount(); r++) {
      b.append(String.format("%4d  %6d", t.intColumn(0).get(r), t.intColumn(1).get(r)));
      for (int c = 2; c < t.columnCount(); c++) {
        b.append(String.format(Locale.ROOT, "  %18.6f", t.doubleColumn(c).getDouble(r)));
      }
      b.append('\n');
    }
    return b.toString();
  }
}
