package dev.qdebug.cli;

import dev.qdebug.debug.ChannelwiseDistribution;
import dev.qdebug.debug.Debugger;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code get-channelwise-data-distribution}: per-channel box plots of calibration nodes. */
@Command(
    name = "get-channelwise-data-distribution",
    description = "Per-channel box plots of calibration nodes' tensors (HTML + CSV).")
public final class GetChannelwiseDataDistributionCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin AnalysisOptions analysis;

  @Option(names = "--nodes", required = true, split = ",", description = "calibration nodes")
  List<String> nodes;

  @Option(
      names = "--axis",
      description = "channel axis (default: the weight's quantization axis, 1 for activations)")
  Integer axis;

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(1);

  @Mixin AnalysisOptions.SaveDir saveDir;

  @Override
  public Integer call() {
    ChannelwiseDistribution.Options o =
        ChannelwiseDistribution.Options.defaults().nodes(nodes).axis(axis).dataNum(dataNum.get());
    try (Debugger dbg = analysis.open()) {
      ChannelwiseDistribution.Result r = dbg.getChannelwiseDataDistribution(o);
      saveDir.save(r);
      for (ChannelwiseDistribution.Boxes b : r.boxes()) {
        spec.commandLine()
            .getOut()
            .printf(
                "wrote %s (%d channels on axis %d)%n",
                saveDir.resolve(b.file() + ".html"), b.stats().rowCount(), b.axis());
      }
    }
    return 0;
  }
}
