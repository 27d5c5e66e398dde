package dev.qdebug.quant;

import dev.qdebug.engine.Tensors;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Min-max: the range is the smallest and largest value seen, per tensor or per channel of {@code
 * axis} (the batch dimension of activations is reduced over like every other).
 */
public final class MaxObserver implements Observer {
  private final int axis;
  private float[] min;
  private float[] max;

  /** Per-tensor. */
  public MaxObserver() {
    this(-1);
  }

  /** Per channel of {@code axis}, or per tensor when {@code axis == -1}. */
  public MaxObserver(int axis) {
    this.axis = axis;
  }

  @Override
  public void observe(INDArray x) {
    float[] v = Tensors.floats(x);
    int channels = 1;
    int inner = v.length;
    if (axis >= 0) {
      long[] shape = x.shape();
      channels = (int) shape[axis];
      inner = 1;
      for (int d = axis + 1; d < shape.length; d++) {
        inner *= (int) shape[d];
      }
    }
    if (min == null) {
      min = new float[channels];
      max = new float[channels];
      Arrays.fill(min, Float.POSITIVE_INFINITY);
      Arrays.fill(max, Float.NEGATIVE_INFINITY);
    } else if (min.length != channels) {
      throw new IllegalArgumentException(
          "channel count changed from " + min.length + " to " + channels);
    }
    int blocks = inner == 0 ? 0 : v.length / inner;
    for (int b = 0; b < blocks; b++) {
      int c = b % channels;
      float lo = min[c];
      float hi = max[c];
      for (int i = b * inner, end = i + inner; i < end; i++) {
        float f = v[i];
        if (f < lo) {
          lo = f;
        }
        if (f > hi) {
          hi = f;
        }
      }
      min[c] = lo;
      max[c] = hi;
    }
  }

  @Override
  public Range range() {
    if (min == null) {
      throw new IllegalStateException("nothing observed");
    }
    float[] lo = min.clone();
    float[] hi = max.clone();
    for (int c = 0; c < lo.length; c++) {
      if (lo[c] > hi[c]) { // an empty channel
        lo[c] = 0;
        hi[c] = 0;
      }
    }
    return new Range(lo, hi, axis);
  }
}
