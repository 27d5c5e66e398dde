package dev.qdebug.quant;

import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization", section 4.2, in its
 * data-driven form): the expected shift of a layer's output per channel caused by quantization,
 * {@code E[y_q - y_f]}, measured on calibration data, is subtracted from the layer's bias. {@link
 * Shift} accumulates the measurement; {@link #fold} writes it into the model.
 */
public final class BiasCorrection {
  private BiasCorrection() {}

  /** The channel axis of {@code node}'s output: 1 for convolutions (NCHW), else the last. */
  public static int channelAxis(OnnxNode node, int rank) {
    return node.opType().equals("Conv") || node.opType().equals("ConvTranspose") ? 1 : rank - 1;
  }

  /** Accumulates {@code y_q - y_f} per output channel over batches. */
  public static final class Shift {
    private final int axis;
    private double[] sum;
    private long[] count;
    private double squares;

    public Shift(int axis) {
      this.axis = axis;
    }

    /** Adds one batch: the quantized and float outputs, same shape. */
    public void add(INDArray quantized, INDArray floats) {
      long[] shape = floats.shape();
      int ch = (int) shape[axis];
      long inner = dev.qdebug.quant.Channels.inner(shape, axis);
      if (sum == null) {
        sum = new double[ch];
        count = new long[ch];
      }
      float[] q = quantized.dup('c').data().asFloat();
      float[] f = floats.dup('c').data().asFloat();
      for (int e = 0; e < f.length; e++) {
        int c = (int) ((e / inner) % ch);
        double d = (double) q[e] - f[e];
        sum[c] += d;
        count[c]++;
        squares += d * d;
      }
    }

    /** Per channel, the mean shift {@code E[y_q - y_f]}. */
    public float[] mean() {
      float[] m = new float[sum.length];
      for (int c = 0; c < m.length; c++) {
        m[c] = count[c] == 0 ? 0f : (float) (sum[c] / count[c]);
      }
      return m;
    }

    /**
     * The share of the output's squared quantization error that the per-channel mean shift
     * explains (0: no systematic shift, 1: the error is all shift).
     */
    public double share() {
      if (sum == null || squares == 0) {
        return 0;
      }
      double s = 0;
      for (int c = 0; c < sum.length; c++) {
        s += count[c] == 0 ? 0 : sum[c] * sum[c] / count[c];
      }
      return s / squares;
    }

    public int axis() {
      return axis;
    }
  }

  /** The correction to add to each channel of the output: {@code -E[y_q - y_f]}. */
  public static float[] correction(float[] meanShift) {
    float[] d = new float[meanShift.length];
    for (int c = 0; c < d.length; c++) {
      d[c] = -meanShift[c];
    }
    return d;
  }

  /** {@code y} with {@code delta[c]} added to every element of channel c along {@code axis}. */
  public static INDArray add(INDArray y, int axis, float[] delta) {
    long[] shape = y.shape();
    long inner = dev.qdebug.quant.Channels.inner(shape, axis);
    int ch = (int) shape[axis];
    float[] v = y.dup('c').data().asFloat();
    for (int e = 0; e < v.length; e++) {
      v[e] += delta[(int) ((e / inner) % ch)];
    }
    return Nd4j.createFromArray(v).reshape('c', shape);
  }

  /** {@code model} with {@code delta} folded into {@code node}'s bias (see {@link ModelEdits#addToOutput}). */
  public static OnnxModel fold(OnnxModel model, String node, float[] delta) {
    return ModelEdits.addToOutput(model, node, delta);
  }
}
