package dev.qdebug.cli;

import dev.qdebug.data.SampleSet;
import dev.qdebug.debug.Accuracy;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code evaluate}: top-1 accuracy on labeled data. */
@Command(name = "evaluate", description = "Top-1 accuracy of a (calibrated) model on labeled data.")
public final class EvaluateCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, description = "float or calibrated ONNX model")
  Path model;

  @Option(
      names = "--dataset",
      required = true,
      description = "DIR/<input>/<i>.npy or DIR/images.npy, plus DIR/labels.npy")
  Path dataset;

  @Option(names = "--float", description = "switch every calibration node off")
  boolean floatOnly;

  @Option(
      names = "--non-quantize-nodes",
      split = ",",
      description = "nodes (or calibration nodes) to leave in float")
  List<String> nonQuantize = new ArrayList<>();

  @Option(names = "--data-num", defaultValue = "0", description = "use the first N samples (0: all)")
  int dataNum;

  @Override
  public Integer call() {
    try (CalibratedModel m = CalibratedModel.load(model)) {
      SampleSet data = SampleSet.open(dataset, m.floatModel().inputs());
      Set<String> on = new LinkedHashSet<>(floatOnly ? Set.of() : m.enabled());
      for (String n : nonQuantize) {
        m.calibrationsOf(n).stream().map(CalibrationNode::name).forEach(on::remove);
      }
      double acc =
          Accuracy.top1(m, data, on, dataNum, new TerminalProgress(spec.commandLine().getErr()));
      spec.commandLine()
          .getOut()
          .printf(
              "top-1 %.4f (%d of %d calibration nodes on)%n", acc, on.size(), m.nodes().size());
    }
    return 0;
  }
}
