package dev.qdebug.quant;

/**
 * A float range to quantize, per channel ({@code axis >= 0}) or for the whole tensor ({@code axis
 * == -1}, arrays of length 1).
 */
public record Range(float[] min, float[] max, int axis) {
  public static Range of(float min, float max) {
    return new Range(new float[] {min}, new float[] {max}, -1);
  }

  /** The parameters that cover this range (see {@link QParams#of}). */
  public QParams toParams(QType type, boolean symmetric) {
    return QParams.of(min, max, axis, type, symmetric);
  }

  /** Per channel, {@code max(|min|, |max|)}: Horizon's "threshold". */
  public float[] thresholds() {
    float[] t = new float[min.length];
    for (int c = 0; c < t.length; c++) {
      t[c] = Math.max(Math.abs(min[c]), Math.abs(max[c]));
    }
    return t;
  }
}
