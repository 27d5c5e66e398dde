package dev.qdebug.quant;

import dev.qdebug.DataException;
import dev.qdebug.engine.Tensors;
import dev.qdebug.engine.ops.ChannelsLast;
import java.nio.FloatBuffer;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Fake quantization, bit for bit what ONNX Runtime computes for QuantizeLinear followed by
 * DequantizeLinear (graph optimizations off): in float32, {@code q = clamp(rint(x / scale) + zp,
 * qmin, qmax)} (a true division, never a multiplication by the reciprocal; {@code rint} rounds
 * half to even), then {@code y = (q - zp) * scale}.
 */
public final class FakeQuant {
  /** Below this many elements one thread does the work. */
  private static final int PARALLEL_MIN = 1 << 15;

  private FakeQuant() {}

  /** Returns a new float32 array: {@code x} quantized with {@code p} and dequantized. */
  public static INDArray apply(INDArray x, QParams p) {
    return apply(x, p, false);
  }

  /**
   * {@link #apply}, in the same pass checking that every value of {@code x} is finite: null when
   * one is not (NaN or infinite), so that the caller reports it.
   */
  public static INDArray applyIfFinite(INDArray x, QParams p) {
    return apply(x, p, true);
  }

  /**
   * {@link #applyIfFinite} written over {@code x} itself when its values lie in c order at the start
   * of its buffer (else into a new array, as {@link #applyIfFinite}): for a value the caller owns
   * ({@link dev.qdebug.engine.TensorHook#onOwnedTensor}). Null when a value is not finite; {@code
   * x} then holds partly quantized values, every non-finite one among them as it was (so that the
   * caller can still say which sample holds it).
   */
  public static INDArray applyInPlaceIfFinite(INDArray x, QParams p) {
    return apply(x, p, true, true);
  }

  private static INDArray apply(INDArray x, QParams p, boolean check) {
    return apply(x, p, check, false);
  }

  private static INDArray apply(INDArray x, QParams p, boolean check, boolean inPlace) {
    if (x.dataType() != DataType.FLOAT) {
      throw new IllegalArgumentException("fake quantization needs float32, got " + x.dataType());
    }
    INDArray nhwc = p.perChannel() ? x : ChannelsLast.inMemoryOrder(x);
    if (nhwc != x) {
      // element-wise with one scale: the NHWC array behind the view, the result channels-last too
      INDArray y = applyDense(nhwc, p, check, inPlace);
      return y == null ? null : y == nhwc ? x : ChannelsLast.view(y);
    }
    return applyDense(x, p, check, inPlace);
  }

  private static INDArray applyDense(INDArray x, QParams p, boolean check, boolean inPlace) {
    long[] shape = x.shape();
    long length = x.length();
    if (length > Integer.MAX_VALUE) {
      throw new DataException("tensor of " + length + " values is too large to fake-quantize");
    }
    int n = (int) length;
    int channels = 1;
    int inner = n;
    if (p.perChannel()) {
      int axis = p.axis();
      if (axis >= shape.length || shape[axis] != p.channels()) {
        throw new DataException(
            "per-channel parameters for "
                + p.channels()
                + " channels on axis "
                + axis
                + " do not fit a tensor of shape "
                + java.util.Arrays.toString(shape));
      }
      channels = p.channels();
      inner = 1;
      for (int d = axis + 1; d < shape.length; d++) {
        inner *= (int) shape[d];
      }
    }
    if (n == 0 || shape.length == 0 || inner == 0) {
      if (check && !allFinite(x)) {
        return null;
      }
      return applyOnCopy(x, shape, channels, inner, p);
    }
    // straight from x's memory into the result's (x's own when in place): no Java-side copies
    INDArray dense = Tensors.dense(x);
    FloatBuffer in = floats(dense);
    INDArray y = inPlace && dense == x ? x : Nd4j.createUninitialized(DataType.FLOAT, shape, 'c');
    FloatBuffer out = y == x ? in : floats(y);
    final int ch = channels;
    final int len = inner;
    // work items: one per channel block, a per-tensor block cut into chunks of CHUNK values so
    // that large tensors spread over the cores
    final int pieces = len > CHUNK ? (len + CHUNK - 1) / CHUNK : 1;
    final int piece = (len + pieces - 1) / pieces;
    IntStream range = IntStream.range(0, n / len * pieces);
    if (n >= PARALLEL_MIN) {
      range = range.parallel();
    }
    int bad =
        range
            .map(
                w -> {
                  int b = w / pieces;
                  int from = b * len + (w % pieces) * piece;
                  int count = Math.max(0, Math.min(piece, (b + 1) * len - from));
                  int c = b % ch;
                  return quantizeRange(in, out, from, count, p.scale()[c], p.zeroPoint()[c], p.type());
                })
            .max()
            .orElse(0);
    return check && bad != 0 ? null : y;
  }

  /** Per-tensor work is cut into pieces of about this many values. */
  private static final int CHUNK = 1 << 14;

  private static boolean allFinite(INDArray x) {
    for (float v : x.dup('c').data().asFloat()) {
      if (!Float.isFinite(v)) {
        return false;
      }
    }
    return true;
  }

  /** The rare shapes (scalars, empty tensors) through a Java array. */
  private static INDArray applyOnCopy(INDArray x, long[] shape, int channels, int inner, QParams p) {
    float[] v = x.dup('c').data().asFloat();
    if (inner > 0) {
      for (int b = 0; b < v.length / inner; b++) {
        int c = b % channels;
        FloatBuffer buf = FloatBuffer.wrap(v);
        quantizeRange(buf, buf, b * inner, inner, p.scale()[c], p.zeroPoint()[c], p.type());
      }
    }
    INDArray y = Nd4j.createFromArray(v);
    return shape.length == 0 ? y.reshape(new long[0]) : y.reshape('c', shape);
  }

  /** Values moved through one thread's scratch array at a time (16 KiB: stays in L1). */
  private static final int SCRATCH = 4096;

  private static final ThreadLocal<float[]> SCRATCH_ARRAYS =
      ThreadLocal.withInitial(() -> new float[SCRATCH]);

  /** Fake-quantizes {@code n} values from {@code from}; returns 1 when one was not finite, else 0. */
  private static int quantizeRange(
      FloatBuffer in, FloatBuffer out, int from, int n, float scale, long zp, QType t) {
    float[] a = SCRATCH_ARRAYS.get();
    int bad = 0;
    for (int at = from; at < from + n; at += SCRATCH) {
      int len = Math.min(SCRATCH, from + n - at);
      in.get(at, a, 0, len);
      int b = quantize(a, len, scale, zp, t.qmin(), t.qmax());
      bad |= b;
      if (b == 0 || out != in) {
        out.put(at, a, 0, len); // in place, a piece holding a non-finite value stays as it was
      }
    }
    return bad;
  }

  /** Rounds to nearest, ties to even, in float for |v| <= 2^22: {@code (v + 1.5 * 2^23) - 1.5 * 2^23}. */
  private static final float ROUNDER = 12582912f;

  /**
   * The kernel, in place on {@code a[0..n)}: {@code q = clamp(rint(x / scale) + zp, lo, hi)}, {@code
   * y = (q - zp) * scale}, all in float32 as ONNX Runtime computes it, written as {@code y =
   * rint(clamp(x / scale, lo - zp, hi - zp)) * scale}: the same values, since lo, hi and zp are
   * integers (below 2^17: exact in float), clamping to integer bounds commutes with rounding, and
   * {@code q - zp} is that rounded integer exactly. {@code rint} by adding and subtracting 1.5 *
   * 2^23 (exact for |v| <= 2^22, ties to even as IEEE float addition rounds), so the loop is plain
   * float arithmetic the JIT vectorizes; two clamps instead of four (the former form: 0.68 against
   * 0.49 ns per value, one core, 2026-12-08). NaN stays NaN. Returns 1 when a value was not
   * finite, else 0.
   */
  private static int quantize(float[] a, int n, float scale, long zp, float lo, float hi) {
    float z = zp;
    float below = lo - z;
    float above = hi - z;
    float largest = 0f;
    for (int i = 0; i < n; i++) {
      float x = a[i];
      largest = Math.max(largest, Math.abs(x)); // NaN once any value is NaN
      float v = Math.min(above, Math.max(below, x / scale));
      a[i] = ((v + ROUNDER) - ROUNDER) * scale;
    }
    return largest <= Float.MAX_VALUE ? 0 : 1;
  }

  /** The float values of a {@link #dense} array, read in place. */
  private static FloatBuffer floats(INDArray dense) {
    return dense.data().asNioFloat();
  }

  /** The integer codes {@code saturate(rint(x / scale) + zp)} of one value. */
  public static long quantize(float x, float scale, long zp, QType t) {
    float q = (float) Math.rint(x / scale) + zp;
    return (long) Math.max(t.qmin(), Math.min(t.qmax(), q));
  }

  /**
   * DequantizeLinear of integer codes {@code q} (any integer array type): {@code (q - zp) *
   * scale} in float32, per tensor or per channel.
   */
  public static INDArray dequantize(INDArray q, QParams p) {
    long[] codes = q.dup('c').data().asLong();
    long[] shape = q.shape();
    int inner = codes.length;
    int channels = 1;
    if (p.perChannel()) {
      channels = p.channels();
      inner = 1;
      for (int d = p.axis() + 1; d < shape.length; d++) {
        inner *= (int) shape[d];
      }
    }
    float[] out = new float[codes.length];
    for (int i = 0; i < codes.length; i++) {
      int c = inner == 0 ? 0 : (i / inner) % channels;
      out[i] = (codes[i] - p.zeroPoint()[c]) * p.scale()[c];
    }
    INDArray y = Nd4j.createFromArray(out);
    return shape.length == 0 ? y.reshape(new long[0]) : y.reshape('c', shape);
  }
}
