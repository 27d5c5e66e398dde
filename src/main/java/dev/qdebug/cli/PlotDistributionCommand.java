package dev.qdebug.cli;

import dev.qdebug.debug.Debugger;
import dev.qdebug.debug.Distribution;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code plot-distribution}: histograms at calibration nodes and node outputs. */
@Command(
    name = "plot-distribution",
    description =
        "Histograms of activation calibration nodes' inputs, weights before/after quantization, "
            + "and node outputs float vs calibrated (HTML + CSV).")
public final class PlotDistributionCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, description = "calibrated model (QDQ or Horizon)")
  Path model;

  @Option(names = "--calibration-data", required = true, description = "DIR/<input>/<i>.npy")
  Path data;

  @Option(
      names = "--nodes",
      required = true,
      split = ",",
      description = "calibration nodes or graph nodes to plot")
  List<String> nodes;

  @Option(
      names = "--data-num",
      defaultValue = "1",
      description = "pool the first N samples (0: all; default ${DEFAULT-VALUE}, as Horizon)")
  int dataNum;

  @Option(names = "--save-dir", required = true, description = "write the figures and CSV here")
  Path saveDir;

  @Override
  public Integer call() {
    Distribution.Options o = Distribution.Options.defaults().nodes(nodes).dataNum(dataNum);
    try (Debugger dbg = Debugger.open(model, data)) {
      dbg.progress(new TerminalProgress(spec.commandLine().getErr()));
      Distribution.Result r = dbg.plotDistribution(o);
      r.save(saveDir);
      for (Distribution.Plot p : r.plots()) {
        spec.commandLine().getOut().println("wrote " + saveDir.resolve(p.file() + ".html"));
      }
    }
    return 0;
  }
}
