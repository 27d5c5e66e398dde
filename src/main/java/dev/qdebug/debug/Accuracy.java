package dev.qdebug.debug;

import dev.qdebug.DataException;
import dev.qdebug.Progress;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.quant.CalibratedModel;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Top-1 accuracy of a model variant on labeled data. */
public final class Accuracy {
  private Accuracy() {}

  /**
   * The fraction of samples whose largest first-output score is at their label, with exactly the
   * calibration nodes {@code enabled} switched on (none: the float model).
   *
   * @param limit use the first {@code limit} samples (0: all)
   * @throws DataException for the first sample (in order) with a non-finite score or a label
   *     outside the model's classes
   */
  public static double top1(
      CalibratedModel model,
      SampleSet data,
      Collection<String> enabled,
      int limit,
      Progress progress) {
    String output = model.floatModel().outputs().get(0).name();
    long[] declared = model.floatModel().outputs().get(0).shape();
    long[] labels =
        declared != null && declared.length == 2 && declared[1] > 0
            ? data.labels(declared[1])
            : data.labels();
    int n = limit > 0 ? Math.min(limit, data.size()) : data.size();
    Workers.Sweep pass = Workers.Sweep.of(model.session(), data, n, BatchPlan.FORWARD, "evaluate");
    List<BatchPlan.Batch> batches = pass.plan().inOrder();
    long[] correct = new long[batches.size()];
    // batches on both cores for a small model; a bad sample (non-finite score, label out of
    // range) is reported as one thread would: the first in sample order (Workers)
    pass.run(
        batches.size(),
        b -> correct[b] = correct(model, data, batches.get(b), enabled, output, labels),
        done -> progress.update("evaluate", (long) done * n / batches.size(), n));
    long total = 0;
    for (long c : correct) {
      total += c;
    }
    return (double) total / n;
  }

  /** How many samples of {@code batch} the variant classifies as labeled. */
  private static long correct(
      CalibratedModel model,
      SampleSet data,
      BatchPlan.Batch batch,
      Collection<String> enabled,
      String output,
      long[] labels) {
    int count = batch.size();
    Map<String, INDArray> out = model.run(data.batch(batch.samples()), enabled, RunOptions.defaults());
    INDArray scores = out.get(output);
    if (scores.rank() != 2 || scores.size(0) != count) {
      throw new DataException(
          model.floatModel().source() + ": output '" + output + "' has shape "
              + java.util.Arrays.toString(scores.shape()) + "; top-1 needs [batch, classes]");
    }
    float[] v = scores.dup('c').data().asFloat();
    int classes = (int) scores.size(1);
    long correct = 0;
    for (int i = 0; i < count; i++) {
      Capture.requireFinite(
          java.util.Arrays.copyOfRange(v, i * classes, (i + 1) * classes), data, batch.sample(i), output,
          enabled.isEmpty() ? "float" : "quantized");
      int best = 0;
      for (int c = 1; c < classes; c++) {
        if (v[i * classes + c] > v[i * classes + best]) {
          best = c;
        }
      }
      int sample = batch.sample(i);
      if (labels[sample] >= classes) {
        throw data.labelError(sample, labels[sample], classes);
      }
      if (best == labels[sample]) {
        correct++;
      }
    }
    return correct;
  }
}
