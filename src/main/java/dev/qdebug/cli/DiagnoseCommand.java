package dev.qdebug.cli;

import dev.qdebug.UsageException;
import dev.qdebug.debug.Debugger;
import dev.qdebug.debug.Diagnose;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code diagnose}: cause, fix trials and the fixed model for the most sensitive nodes. */
@Command(
    name = "diagnose",
    description = {
      "Names the cause of each of the most sensitive nodes' error with its evidence, tries the"
          + " fixes on each node alone (per-channel weights, another range method, asymmetric,"
          + " int16, bias correction, cross-layer equalization, float as the reference), and"
          + " combines the winners into a fixed model (standard QDQ ONNX).",
      "With --dataset the target is top-1 as a fraction of float (default 0.99); without, the"
          + " output cosine similarity on the calibration data."
    })
public final class DiagnoseCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin AnalysisOptions analysis;

  @Option(names = "--dataset", description = "labeled data (samples plus DIR/labels.npy) for top-1")
  Path dataset;

  @Option(names = "--eval-num", defaultValue = "0", description = "labeled samples for top-1 (0: all)")
  int evalNum;

  @Option(
      names = "--trial-eval-num",
      defaultValue = "" + Diagnose.Options.TRIAL_EVAL_NUM,
      description = "with --dataset, labeled samples for the fix trials' top-1 (0: all of --eval-num; default ${DEFAULT-VALUE})")
  int trialEvalNum;

  @Option(names = "--top", defaultValue = "10", description = "diagnose the N most sensitive nodes (default ${DEFAULT-VALUE})")
  int top;

  @Option(names = "--nodes", split = ",", description = "diagnose these nodes instead of the top of the ranking")
  List<String> nodes;

  @Option(
      names = "--target",
      defaultValue = "0.99",
      description = "fraction of float top-1 with --dataset, else output cosine; in (0, 1]")
  double target;

  @Option(
      names = "--target-metric",
      description = "top-1 (needs --dataset) or cosine-similarity; default top-1 with --dataset")
  String targetMetric;

  @Option(
      names = "--samples",
      defaultValue = "8",
      description = "explain this many flipped (or most degraded) samples with their culprit nodes (0: none)")
  int samples;

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(16);

  @Mixin AnalysisOptions.OptionalSaveDir saveDir;

  @Option(names = "--output", description = "write the fixed model here")
  Path output;

  @Override
  public Integer call() {
    Path model = analysis.model;
    Path inSaveDir = saveDir.get() == null ? null : saveDir.get().resolve("fixed_model.onnx");
    for (Path p : new Path[] {output, inSaveDir}) {
      if (p != null && Files.exists(p) && Files.exists(model) && sameFile(p, model)) {
        throw new UsageException(
            (p == output ? "--output" : "--save-dir") + ": " + p + " is the input model");
      }
    }
    Diagnose.TargetMetric metric = targetMetric == null ? null : Diagnose.TargetMetric.parse(targetMetric);
    if (metric == Diagnose.TargetMetric.TOP1 && dataset == null) {
      throw new UsageException("--target-metric top-1 needs --dataset (labeled data)");
    }
    Diagnose.Options o =
        Diagnose.Options.defaults()
            .top(top)
            .nodes(nodes == null ? null : nodes.stream().map(String::strip).toList())
            .dataNum(dataNum.get())
            .dataset(dataset)
            .evalNum(evalNum)
            .target(target)
            .targetMetric(metric)
            .samples(samples)
            .trialEvalNum(trialEvalNum);
    PrintWriter out = spec.commandLine().getOut();
    try (Debugger dbg = analysis.open()) {
      Diagnose.Result r = dbg.diagnose(o);
      saveDir.save(r);
      if (output != null) {
        r.saveModel(output);
      }
      out.print(SensitivityAnalysisCommand.format(r.summary()));
      out.println();
      out.print(SensitivityAnalysisCommand.format(r.stepTable()));
      out.println();
      out.print(SensitivityAnalysisCommand.format(r.accuracy()));
      out.println();
      Map<String, double[]> m = r.metrics();
      String what = o.metric() == Diagnose.TargetMetric.TOP1 ? "top-1" : "output cosine";
      double value = m.get("fixed")[o.metric() == Diagnose.TargetMetric.TOP1 ? 1 : 0];
      out.println(
          String.format(
              Locale.ROOT,
              "%s: fixed model %s %.6f against the target %.6f; %d node(s) in float, %d in int16",
              r.reached() ? "target reached" : "target not reached (best shown)",
              what,
              value,
              r.threshold(),
              r.nodesInFloat(),
              r.nodesInInt16()));
      if (output != null || saveDir.get() != null) {
        out.println(
            "wrote "
                + (output != null ? output : "")
                + (output != null && saveDir.get() != null ? " and " : "")
                + (saveDir.get() != null ? "the tables, figure and fixed_model.onnx in " + saveDir.get() : ""));
      }
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
