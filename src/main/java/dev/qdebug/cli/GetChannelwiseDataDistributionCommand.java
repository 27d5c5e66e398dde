package dev.qdebug.cli;

import dev.qdebug.debug.ChannelwiseDistribution;
import dev.qdebug.debug.Debugger;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code get-channelwise-data-distribution}: per-channel box plots of calibration nodes. */
@Command(
    name = "get-channelwise-data-distribution",
    description = "Per-channel box plots of calibration nodes' tensors (HTML + CSV).")
public final class GetChannelwiseDataDistributionCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, description = "calibrated model (QDQ or Horizon)")
  Path model;

  @Option(names = "--calibration-data", required = true, description = "DIR/<input>/<i>.npy")
  Path data;

  @Option(names = "--nodes", required = true, split = ",", description = "calibration nodes")
  List<String> nodes;

  @Option(
      names = "--axis",
      description = "channel axis (default: the weight's quantization axis, 1 for activations)")
  Integer axis;

  @Option(
      names = "--data-num",
      defaultValue = "1",
      description = "pool the first N samples for activations (0: all; default ${DEFAULT-VALUE})")
  int dataNum;

  @Option(names = "--save-dir", required = true, description = "write the figures and CSV here")
  Path saveDir;

  @Override
  public Integer call() {
    ChannelwiseDistribution.Options o =
        ChannelwiseDistribution.Options.defaults().nodes(nodes).axis(axis).dataNum(dataNum);
    try (Debugger dbg = Debugger.open(model, data)) {
      dbg.progress(new TerminalProgress(spec.commandLine().getErr()));
      ChannelwiseDistribution.Result r = dbg.getChannelwiseDataDistribution(o);
      r.save(saveDir);
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
