package dev.qdebug.cli;

import dev.qdebug.debug.Debugger;
import dev.qdebug.debug.NodeSensitivity;
import dev.qdebug.debug.RunAll;
import dev.qdebug.metrics.Metric;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code runall}: every analysis into sub-folders of the save folder, with an index page. */
@Command(
    name = "runall",
    description = "Runs every analysis; writes sub-folders and an index.html report.")
public final class RunallCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin AnalysisOptions analysis;

  @Mixin AnalysisOptions.OptionalSaveDir saveDir =
      new AnalysisOptions.OptionalSaveDir(Path.of("debug_result"));

  @Option(names = "--node-type", description = "rank 'node's instead of weights and activations")
  String nodeType;

  @Option(names = "--metrics", split = ",", defaultValue = "cosine-similarity",
      description = "sensitivity metrics; the first sorts")
  List<String> metrics;

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(1);

  @Option(names = "--pick-threshold", defaultValue = "0.999",
      description = "nodes with output cosine at most this enter the partial-quantization curve")
  double pickThreshold;

  @Option(names = "--average-mode", description = "accumulated-error curves as running means")
  boolean averageMode;

  @Option(
      names = "--dataset",
      description =
          "labeled data (DIR/labels.npy beside the samples): adds the accuracy table (float,"
              + " calibrated, top 1/3/5/10 sensitive nodes in float) and the automatic partial"
              + " quantization to 99%% of float top-1, with the partially quantized model")
  Path dataset;

  @Option(names = "--eval-num", defaultValue = "0",
      description = "with --dataset: the first N labeled samples (0: all)")
  int evalNum;

  @Override
  public Integer call() {
    if (evalNum != 0 && dataset == null) {
      throw new dev.qdebug.UsageException("--eval-num: needs --dataset");
    }
    List<Metric> ms = Metrics.parse(metrics);
    RunAll.Options o =
        RunAll.Options.defaults()
            .metrics(ms)
            .dataNum(dataNum.get())
            .pickThreshold(pickThreshold)
            .averageMode(averageMode)
            .dataset(dataset)
            .evalNum(evalNum)
            .nodeType(nodeType == null ? null : NodeSensitivity.NodeType.parse(nodeType));
    try (Debugger dbg = analysis.open()) {
      RunAll.Result r = dbg.runall(saveDir.get(), o);
      if (r.accuracy() != null) {
        spec.commandLine().getOut().print(dev.qdebug.viz.Fmt.text(r.accuracy().table(), Integer.MAX_VALUE));
        var pq = r.partialQuantization();
        spec.commandLine().getOut().println(
            pq.k() == 0
                ? "the calibrated model meets 99% of float top-1"
                : (pq.reached() ? "99% of float top-1 with " : "target not reached even with ")
                    + pq.k() + " node" + (pq.k() == 1 ? "" : "s") + " in float: "
                    + String.join(", ", pq.chosenNodes()));
      }
      spec.commandLine().getOut().println("report: " + r.index());
    }
    return 0;
  }
}
