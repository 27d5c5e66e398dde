package dev.qdebug.debug;

import dev.qdebug.DataException;
import dev.qdebug.Progress;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.quant.CalibratedModel;
import java.util.Collection;
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
    long correct = 0;
    int done = 0;
    for (BatchPlan.Batch batch :
        BatchPlan.of(model.session(), data, n, BatchPlan.FORWARD, "evaluate").batches()) {
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
      done += count;
      progress.update("evaluate", done, n);
    }
    return (double) correct / n;
  }
}
