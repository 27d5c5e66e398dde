package dev.qdebug.cli;

import dev.qdebug.UsageException;
import dev.qdebug.debug.AutoPartialQuantization;
import dev.qdebug.debug.Debugger;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code partial-quantization}: the automatic partial-quantization search (not in Horizon). */
@Command(
    name = "partial-quantization",
    description = {
      "Finds the fewest most-sensitive nodes to leave in float (or raise to int16) so that the"
          + " model meets a target, and writes the partially quantized model.",
      "With --dataset the target is top-1 accuracy as a fraction of float (default 0.99);"
          + " without, the output cosine similarity on the calibration data."
    })
public final class PartialQuantizationCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin AnalysisOptions analysis;

  @Option(
      names = "--dataset",
      description = "labeled data (samples plus DIR/labels.npy) for an accuracy target")
  Path dataset;

  @Option(
      names = "--target",
      defaultValue = "0.99",
      description = "fraction of float top-1 with --dataset, else output cosine similarity")
  double target;

  @Option(names = "--int16", description = "raise the chosen nodes to int16 instead of float")
  boolean int16;

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(0);

  @Option(
      names = "--eval-num",
      defaultValue = "0",
      description = "labeled samples for accuracy (0: all)")
  int evalNum;

  @Option(
      names = "--sensitive-nodes",
      split = ",",
      description = "use this ranking (most sensitive first) instead of computing it")
  List<String> sensitiveNodes;

  @Option(names = "--exhaustive", description = "evaluate every k instead of bisecting")
  boolean exhaustive;

  @Mixin AnalysisOptions.SaveDir saveDir;

  @Option(names = "--output", description = "also write the partially quantized model here")
  Path output;

  @Override
  public Integer call() {
    Path model = analysis.model;
    for (Path p : new Path[] {output, saveDir.resolve("partial_quantized_model.onnx")}) {
      if (p != null && Files.exists(p) && Files.exists(model) && sameFile(p, model)) {
        throw new UsageException(
            (p == output ? "--output" : "--save-dir") + ": " + p + " is the input model");
      }
    }
    AutoPartialQuantization.Options o =
        AutoPartialQuantization.Options.defaults()
            .dataset(dataset)
            .target(target)
            .restore(
                int16
                    ? AutoPartialQuantization.Restore.INT16
                    : AutoPartialQuantization.Restore.FLOAT)
            .dataNum(dataNum.get())
            .evalNum(evalNum)
            .sensitiveNodes(
                sensitiveNodes == null ? null : sensitiveNodes.stream().map(String::strip).toList())
            .exhaustive(exhaustive);
    PrintWriter out = spec.commandLine().getOut();
    try (Debugger dbg = analysis.open()) {
      AutoPartialQuantization.Result r = dbg.autoPartialQuantization(o);
      saveDir.save(r);
      if (output != null) {
        r.saveModel(output);
      }
      out.print(SensitivityAnalysisCommand.format(r.search()));
      out.println();
      out.print(SensitivityAnalysisCommand.format(r.summary()));
      out.println();
      String what = int16 ? "raised to int16" : "left in float";
      if (r.reached()) {
        out.println(
            "k = "
                + r.k()
                + ": "
                + (r.k() == 0
                    ? "the calibrated model meets the target"
                    : what + ": " + String.join(", ", r.chosenNodes())));
      } else {
        out.println("target not reached even with all " + r.k() + " nodes " + what);
      }
      if (!r.monotone()) {
        out.println(
            "note: the metric is not monotone in k (a smaller k passes, a larger one fails)");
      }
      out.println(
          "wrote "
              + saveDir.resolve("partial_quantized_model.onnx")
              + (output != null ? ", " + output : "")
              + " and the search tables and figure in "
              + saveDir.get());
    }
    return 0;
  }

  private static boolean sameFile(Path a, Path b) {
    try {
      return Files.isSameFile(a, b);
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
