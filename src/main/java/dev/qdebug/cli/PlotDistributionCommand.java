package dev.qdebug.cli;

import dev.qdebug.debug.Debugger;
import dev.qdebug.debug.Distribution;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

  @Mixin AnalysisOptions analysis;

  @Option(
      names = "--nodes",
      required = true,
      split = ",",
      description = "calibration nodes or graph nodes to plot")
  List<String> nodes;

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(1);

  @Mixin AnalysisOptions.SaveDir saveDir;

  @Override
  public Integer call() {
    Distribution.Options o = Distribution.Options.defaults().nodes(nodes).dataNum(dataNum.get());
    try (Debugger dbg = analysis.open()) {
      Distribution.Result r = dbg.plotDistribution(o);
      saveDir.save(r);
      for (Distribution.Plot p : r.plots()) {
        spec.commandLine().getOut().println("wrote " + saveDir.resolve(p.file() + ".html"));
      }
    }
    return 0;
  }
}
