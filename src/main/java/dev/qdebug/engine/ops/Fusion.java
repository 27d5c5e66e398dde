package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.nio.FloatBuffer;
import java.util.Optional;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Sigmoid;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Ops that do the work of two nodes at once, for a plan that does not need the tensor between
 * them (no hook, not requested): a convolution followed by an activation that clamps its values
 * (Relu, Clip with constant bounds, such as ReLU6) becomes the convolution and the clamp applied
 * in place to the convolution's own, freshly allocated output; so does one followed by {@code
 * Mul(x, Sigmoid(x))} (SiLU, as exported from PyTorch). This saves the activation's
 * output array and its dispatch; the values are those of the two ops run one after the other.
 *
 * <p>Small float outputs are clamped by a Java loop over the native buffer: below about {@value
 * #JAVA_MAX_LENGTH} elements one ND4J call costs more than the loop (measured on the project's
 * machine: about 26 us for a native in-place ReLU of 4,096 floats, 3-4 us for the loop).
 */
public final class Fusion {
  private Fusion() {}

  /** Up to this many elements the clamp runs as a Java loop ({@code -Dqdebug.fuse.javaMax}). */
  static final long JAVA_MAX_LENGTH = Long.getLong("qdebug.fuse.javaMax", 1 << 14);

  /** Up to this many elements SiLU runs as a Java loop (an exp per element is not cheap). */
  static final long JAVA_MAX_SILU_LENGTH = 1 << 11;

  /**
   * The bounds [lo, hi] that activation node {@code act} clamps to, when it is a pure clamp whose
   * bounds are known now: Relu (opset 6 on; [0, +inf]), Clip with min/max attributes (before
   * opset 11) or with constant scalar bound inputs, lo &lt;= hi.
   *
   * @param inputs the node's inputs where they are constants, null elsewhere
   */
  public static Optional<double[]> clampBounds(OnnxNode act, int opset, INDArray[] inputs) {
    switch (act.opType()) {
      case "Relu":
        return opset >= 6 ? Optional.of(new double[] {0, Double.POSITIVE_INFINITY}) : Optional.empty();
      case "Clip":
        double lo;
        double hi;
        if (act.hasAttr("min") || act.hasAttr("max") || opset < 11) {
          lo = act.attrFloat("min", -Float.MAX_VALUE);
          hi = act.attrFloat("max", Float.MAX_VALUE);
        } else {
          Optional<Double> l = bound(act, inputs, 1, Double.NEGATIVE_INFINITY);
          Optional<Double> h = bound(act, inputs, 2, Double.POSITIVE_INFINITY);
          if (l.isEmpty() || h.isEmpty()) {
            return Optional.empty();
          }
          lo = l.get();
          hi = h.get();
        }
        return lo <= hi ? Optional.of(new double[] {lo, hi}) : Optional.empty();
      default:
        return Optional.empty();
    }
  }

  /** A constant float scalar bound, the default when the input is absent, empty when unknown. */
  private static Optional<Double> bound(OnnxNode act, INDArray[] inputs, int i, double absent) {
    if (i >= act.inputs().size() || act.inputs().get(i).isEmpty()) {
      return Optional.of(absent);
    }
    INDArray b = i < inputs.length ? inputs[i] : null;
    if (b == null) {
      return Optional.empty(); // computed at run time
    }
    if (b.length() == 0) {
      return Optional.of(absent);
    }
    if (b.length() != 1 || b.dataType() != DataType.FLOAT) {
      return Optional.empty(); // the unfused Clip reports or handles it
    }
    return Optional.of(b.getDouble(0));
  }

  /**
   * {@code conv} (a Conv op: its output is always a new array) followed by a clamp to [lo, hi]
   * applied to that output in place; {@code relu} says the clamp is a Relu ({@code lo = 0, hi =
   * +inf}), which runs as ND4J's ReLU on large outputs, as the unfused Relu does.
   */
  public static Op convClamp(Op conv, double lo, double hi, boolean relu) {
    Conv fused = conv instanceof Conv c ? c.with(Dnnl.PostOp.clamp(lo, hi, relu)) : null;
    if (fused != null) {
      return fused; // oneDNN's post-op: the same values, no second pass
    }
    return in -> {
      INDArray[] out = fresh(conv.run(in), in);
      clampInPlace(out[0], lo, hi, relu);
      return out;
    };
  }

  /**
   * {@code conv} followed by {@code add} of its output and a residual tensor (the step's last
   * input; {@code convFirst}: the conv output is the Add's first input), then a clamp to the
   * {@code bounds} (null: none; {@code relu}: a Relu node): oneDNN's sum and clip post-ops over a
   * destination that holds the residual, bit for bit the three ops (float additions commute);
   * where oneDNN does not run it, the ops one after the other. Null where the convolution has no
   * oneDNN path (the plan does not fuse).
   */
  public static Op convAdd(Op conv, Op add, boolean convFirst, double[] bounds, boolean relu) {
    Dnnl.PostOp act = bounds == null ? null : Dnnl.PostOp.clamp(bounds[0], bounds[1], relu);
    Conv fused = conv instanceof Conv c ? c.withSum(act) : null;
    if (fused == null) {
      return null;
    }
    return in -> {
      INDArray r = in[in.length - 1];
      INDArray[] convIn = java.util.Arrays.copyOf(in, in.length - 1);
      INDArray y = fused.runSum(convIn, r);
      if (y != null) {
        return new INDArray[] {y};
      }
      INDArray c = conv.run(convIn)[0];
      INDArray[] sumIn = convFirst ? new INDArray[] {c, r} : new INDArray[] {r, c};
      INDArray[] z = fresh(add.run(sumIn), sumIn);
      if (bounds != null) {
        clampInPlace(z[0], bounds[0], bounds[1], relu);
      }
      return z;
    };
  }

  /** {@code conv} followed by {@code x * sigmoid(x)} applied to its output in place. */
  public static Op convSilu(Op conv) {
    Conv fused = conv instanceof Conv c ? c.with(Dnnl.PostOp.SILU) : null;
    if (fused != null) {
      return fused; // oneDNN's post-op: no second pass (its exponential differs in the last bits)
    }
    return in -> {
      INDArray[] out = fresh(conv.run(in), in);
      siluInPlace(out[0]);
      return out;
    };
  }

  /** {@code out} with its first array copied when it shares memory with an input. */
  private static INDArray[] fresh(INDArray[] out, INDArray[] in) {
    INDArray y = out[0];
    for (INDArray x : in) {
      if (x != null && !x.isEmpty() && !y.isEmpty() && x.data() == y.data()) {
        // never the case for Conv; kept correct should it ever return a view of an input
        out[0] = y.dup();
        return out;
      }
    }
    return out;
  }

  /**
   * {@code y * sigmoid(y)} in place: small float arrays in Java (float sigmoid as ND4J computes
   * it, 1 / (1 + exp(-y)), then the product rounded to float), others as the unfused ops do (ND4J's
   * Sigmoid into a temporary, then the product).
   */
  static void siluInPlace(INDArray y) {
    if (y.isEmpty()) {
      return;
    }
    y = ChannelsLast.inMemoryOrder(y); // element-wise: any order of the values will do
    if (y.dataType() == DataType.FLOAT && y.length() <= JAVA_MAX_SILU_LENGTH && FlatData.isPlain(y)) {
      FloatBuffer b = y.data().asNioFloat();
      int n = (int) y.length();
      for (int i = 0; i < n; i++) {
        float v = b.get(i);
        float s = 1f / (1f + (float) Math.exp(-v));
        b.put(i, v * s);
      }
      return;
    }
    INDArray s = y.ulike();
    Nd4j.getExecutioner().exec(new Sigmoid(y, s));
    y.muli(s);
  }

  /** Clamps {@code y} (an array the caller owns) to [lo, hi] in place. */
  static void clampInPlace(INDArray y, double lo, double hi, boolean relu) {
    if (y.isEmpty()) {
      return;
    }
    y = ChannelsLast.inMemoryOrder(y); // element-wise: any order of the values will do
    if (y.dataType() == DataType.FLOAT && y.length() <= JAVA_MAX_LENGTH && FlatData.isPlain(y)) {
      FloatBuffer b = y.data().asNioFloat();
      int n = (int) y.length();
      if (relu) {
        for (int i = 0; i < n; i++) {
          float v = b.get(i);
          if (v < 0f) {
            b.put(i, 0f);
          }
        }
      } else {
        float l = (float) lo;
        float h = (float) hi;
        for (int i = 0; i < n; i++) {
          float v = b.get(i);
          if (v < l) {
            b.put(i, l);
          } else if (v > h) {
            b.put(i, h);
          }
        }
      }
      return;
    }
    if (relu) {
      Nd4j.getExecutioner().exec(new RectifiedLinear(y, y, 0.0));
    } else {
      Unary.clamp(y, y, lo, hi);
    }
  }

  /** Up to this many elements a fused layer normalization runs as a Java loop. */
  static final long JAVA_MAX_NORM_LENGTH = 1 << 16;

  /**
   * Layer normalization over the last axis, {@code d = x - mean(x); y = d / sqrt(mean(d^2) + eps)
   * * gamma + beta}, as one Java loop per row in float (sums in double), for small float inputs
   * with per-feature gamma and beta, larger ones on oneDNN ({@link Dnnl#layerNorm}); anything else
   * runs {@code fallback} (the exported ops one after the other).
   */
  public static Op layerNorm(double eps, INDArray gamma, INDArray beta, Op fallback) {
    float[] g = gamma.dataType() == DataType.FLOAT ? gamma.dup('c').data().asFloat() : null;
    float[] b = beta.dataType() == DataType.FLOAT ? beta.dup('c').data().asFloat() : null;
    boolean vectors = gamma.rank() <= 1 && beta.rank() <= 1;
    INDArray gv = g == null ? null : Nd4j.createFromArray(g);
    INDArray bv = b == null ? null : Nd4j.createFromArray(b);
    return in -> {
      INDArray x = in[0];
      int n = x.rank() == 0 ? 0 : (int) x.size(-1);
      if (g == null || b == null || !vectors || n == 0 || g.length != n || b.length != n
          || x.dataType() != DataType.FLOAT) {
        return fallback.run(in);
      }
      if (!FlatData.isPlain(x)) {
        // a view (a token-major reshape of a transpose, say): one copy, not the ops one by one
        x = x.dup('c');
      }
      if (x.length() > JAVA_MAX_NORM_LENGTH) {
        INDArray y = Dnnl.layerNorm(x.reshape('c', x.length() / n, n), gv, bv, (float) eps);
        return y == null ? fallback.run(in) : new INDArray[] {y.reshape('c', x.shape())};
      }
      INDArray y = x.ulike();
      FloatBuffer src = x.data().asNioFloat();
      FloatBuffer dst = y.data().asNioFloat();
      int rows = (int) (x.length() / n);
      float e = (float) eps;
      for (int r = 0, o = 0; r < rows; r++, o += n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
          sum += src.get(o + i);
        }
        float mean = (float) (sum / n);
        double sq = 0;
        for (int i = 0; i < n; i++) {
          float d = src.get(o + i) - mean;
          sq += d * d;
        }
        float std = (float) Math.sqrt((float) (sq / n) + e);
        for (int i = 0; i < n; i++) {
          float d = src.get(o + i) - mean;
          dst.put(o + i, d / std * g[i] + b[i]);
        }
      }
      return new INDArray[] {y};
    };
  }
}
