package dev.qdebug.quant;

import java.util.Arrays;

/**
 * Quantization parameters of one tensor: {@code q = saturate(rint(x / scale) + zeroPoint)}, {@code
 * x' = (q - zeroPoint) * scale}. Per-tensor parameters have one scale and {@code axis == -1};
 * per-channel parameters have one scale and zero point per index of {@code axis}.
 *
 * @param scale one per channel (length 1 per-tensor); every value positive and finite
 * @param zeroPoint same length as {@code scale}, within the type's range
 * @param axis channel axis, -1 for per-tensor
 * @param type the quantized type
 */
public record QParams(float[] scale, long[] zeroPoint, int axis, QType type) {
  public QParams {
    if (scale.length == 0 || scale.length != zeroPoint.length) {
      throw new IllegalArgumentException(
          "scale and zero point lengths differ: " + scale.length + " vs " + zeroPoint.length);
    }
    if (axis < 0 && scale.length != 1) {
      throw new IllegalArgumentException("per-tensor parameters need exactly one scale");
    }
    for (int i = 0; i < scale.length; i++) {
      if (!(scale[i] > 0) || Float.isInfinite(scale[i])) {
        throw new IllegalArgumentException("scale[" + i + "] = " + scale[i] + " is not positive");
      }
      if (zeroPoint[i] < type.qmin() || zeroPoint[i] > type.qmax()) {
        throw new IllegalArgumentException(
            "zero point " + zeroPoint[i] + " outside " + type.label() + " range");
      }
    }
  }

  /** Per-tensor parameters. */
  public static QParams perTensor(float scale, long zeroPoint, QType type) {
    return new QParams(new float[] {scale}, new long[] {zeroPoint}, -1, type);
  }

  public boolean perChannel() {
    return axis >= 0;
  }

  public int channels() {
    return scale.length;
  }

  /**
   * The parameters that represent {@code [min, max]} per channel, as ONNX Runtime's {@code
   * compute_scale_zp} and PyTorch's observers do. The range is first widened to include 0 (zero
   * must be exactly representable). Symmetric: {@code absmax = max(|min|, |max|)}, {@code scale =
   * absmax / ((qmax - qmin) / 2)}, zero point at the middle of the type's range (0 for signed
   * types, 128 for uint8). Asymmetric: {@code scale = (max - min) / (qmax - qmin)}, {@code zp =
   * rint(qmin - min / scale)} clamped to the type. A range so narrow that the scale would be zero
   * or below the smallest normal float (a zero or denormal range) gets scale 1, as ONNX Runtime's
   * {@code compute_scale_zp} does (its values are all 0 or denormal then, which any scale maps to
   * level 0).
   */
  public static QParams of(float[] min, float[] max, int axis, QType type, boolean symmetric) {
    int n = min.length;
    float[] scale = new float[n];
    long[] zp = new long[n];
    double qrange = (double) type.qmax() - type.qmin();
    for (int c = 0; c < n; c++) {
      double lo = Math.min(min[c], 0);
      double hi = Math.max(max[c], 0);
      if (symmetric) {
        double absmax = Math.max(-lo, hi);
        double s = absmax / (qrange / 2);
        scale[c] = s >= Float.MIN_NORMAL ? (float) s : 1f;
        zp[c] = type.signed() ? 0 : (type.qmax() + 1) / 2;
      } else {
        double s = (hi - lo) / qrange;
        scale[c] = s >= Float.MIN_NORMAL ? (float) s : 1f;
        long z = (long) Math.rint(type.qmin() - lo / scale[c]);
        zp[c] = Math.max(type.qmin(), Math.min(type.qmax(), z));
      }
    }
    return new QParams(scale, zp, axis, type);
  }

  /** The float range this quantizes without clipping, per channel: {@code [lo, hi]}. */
  public float[][] representableRange() {
    float[] lo = new float[scale.length];
    float[] hi = new float[scale.length];
    for (int c = 0; c < scale.length; c++) {
      lo[c] = (type.qmin() - zeroPoint[c]) * scale[c];
      hi[c] = (type.qmax() - zeroPoint[c]) * scale[c];
    }
    return new float[][] {lo, hi};
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof QParams p
        && axis == p.axis
        && type == p.type
        && Arrays.equals(scale, p.scale)
        && Arrays.equals(zeroPoint, p.zeroPoint);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(scale) * 31 + Arrays.hashCode(zeroPoint) + axis + type.hashCode();
  }

  @Override
  public String toString() {
    return type.label()
        + (axis < 0 ? " per-tensor" : " per-channel(axis " + axis + ")")
        + " scale="
        + (scale.length <= 4 ? Arrays.toString(scale) : "[" + scale.length + " values]")
        + " zp="
        + (zeroPoint.length <= 4 ? Arrays.toString(zeroPoint) : "[" + zeroPoint.length + " values]");
  }
}
