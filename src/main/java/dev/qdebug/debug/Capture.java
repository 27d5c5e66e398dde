package dev.qdebug.debug;

import dev.qdebug.UsageException;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.TensorHook;
import dev.qdebug.engine.Workspaces;
import dev.qdebug.quant.CalibratedModel;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runs that keep chosen tensors, before and after their own calibration node, and value helpers.
 */
final class Capture {
  private Capture() {}

  /**
   * Tensor values of one run: {@code before} is each tensor as produced (what Horizon's
   * HzCalibration node receives: the node's input), {@code after} as the rest of the graph sees it
   * (fake-quantized when its calibration node is on).
   */
  record Values(Map<String, INDArray> before, Map<String, INDArray> after) {}

  /**
   * Runs {@code inputs} with exactly the calibration nodes {@code enabled} on and keeps {@code
   * tensors} (graph inputs, constants or node outputs).
   */
  static Values run(
      CalibratedModel model,
      Map<String, INDArray> inputs,
      Collection<String> enabled,
      Collection<String> tensors) {
    Set<String> want = new LinkedHashSet<>(tensors);
    Map<String, INDArray> before = new HashMap<>();
    Map<String, INDArray> after = new HashMap<>();
    TensorHook q = model.hook(enabled);
    TensorHook keep =
        (t, v) -> {
          INDArray out = q.onTensor(t, v);
          if (want.contains(t)) {
            // kept beyond the call: copies outside the session's workspace
            before.put(t, Workspaces.keep(v));
            after.put(t, Workspaces.keep(out));
          }
          return out;
        };
    model.session().run(inputs, RunOptions.outputs(new ArrayList<>(want)).hook(keep));
    return new Values(before, after);
  }

  /** The number of samples {@code dataNum} selects (0: all), checked against the data. */
  /**
   * Refuses a model output holding NaN or infinite values for a sample: finite inputs that
   * overflow float32 inside the model leave nothing to compare or rank.
   */
  static void requireFinite(float[] values, SampleSet data, int sample, String output, String which) {
    for (float v : values) {
      if (!Float.isFinite(v)) {
        throw new dev.qdebug.DataException(
            data.dir() + ": sample " + sample + ": the " + which + " model's output '" + output
                + "' holds " + v + " (the values overflow float32 inside the model)");
      }
    }
  }

  static int samples(SampleSet data, int dataNum) {
    if (dataNum < 0) {
      throw new UsageException("--data-num: " + dataNum + " is negative; give 0 for all samples");
    }
    int n = dataNum > 0 ? dataNum : data.size();
    if (n > data.size()) {
      throw new UsageException("--data-num: " + n + " samples asked, the data has " + data.size());
    }
    if (n == 0) {
      throw new UsageException("the calibration data has no samples");
    }
    return n;
  }

  /** The arrays one after another. */
  static float[] concat(List<float[]> parts) {
    int n = 0;
    for (float[] p : parts) {
      n += p.length;
    }
    float[] out = new float[n];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }

  /** The values of each channel along {@code axis} of a row-major tensor of shape {@code shape}. */
  static float[][] channels(float[] v, long[] shape, int axis) {
    int ch = (int) shape[axis];
    int inner = 1;
    for (int d = axis + 1; d < shape.length; d++) {
      inner *= (int) shape[d];
    }
    int outer = ch == 0 || inner == 0 ? 0 : v.length / (ch * inner);
    float[][] out = new float[ch][outer * inner];
    for (int o = 0; o < outer; o++) {
      for (int c = 0; c < ch; c++) {
        System.arraycopy(v, (o * ch + c) * inner, out[c], o * inner, inner);
      }
    }
    return out;
  }

  /**
   * A file-name-safe form of a node or tensor name, as Horizon makes it ({@code /} becomes {@code
   * _}): {@link dev.qdebug.SafeNames#of}, a single file name, never a path.
   */
  static String fileName(String name) {
    return dev.qdebug.SafeNames.of(name);
  }
}
