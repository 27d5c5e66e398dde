package dev.qdebug.quant;

/**
 * The quantization of one tensor: which tensor, weight or activation, its parameters and the
 * range they came from. Immutable; whether it is switched on is the {@link CalibratedModel}'s
 * state. Named as Horizon names its calibration nodes: the tensor name plus {@value #SUFFIX}.
 *
 * @param name {@code tensor + SUFFIX}, stable across runs and files
 * @param tensor the quantized tensor
 * @param kind weight or activation
 * @param params scale, zero point, axis and type
 * @param symmetric whether the range was made symmetric around 0
 * @param method how the range was chosen, e.g. {@code max}, {@code kl}, {@code percentile 99.99},
 *     or {@code loaded} for parameters read from a file
 */
public record CalibrationNode(
    String name, String tensor, TensorKind kind, QParams params, boolean symmetric, String method) {
  /** The suffix of every calibration node's name (Horizon's). */
  public static final String SUFFIX = "_HzCalibration";

  /** A node for {@code tensor} with the standard name. */
  public static CalibrationNode of(
      String tensor, TensorKind kind, QParams params, boolean symmetric, String method) {
    return new CalibrationNode(tensor + SUFFIX, tensor, kind, params, symmetric, method);
  }

  /** Horizon's thresholds: per channel, the largest magnitude the parameters represent. */
  public float[] thresholds() {
    float[][] r = params.representableRange();
    float[] t = new float[r[0].length];
    for (int c = 0; c < t.length; c++) {
      t[c] = Math.max(Math.abs(r[0][c]), Math.abs(r[1][c]));
    }
    return t;
  }

  /**
   * The same node quantizing to {@code type} over the same float range (e.g. raised to int16 in
   * partial quantization).
   */
  public CalibrationNode withType(QType type) {
    if (type == params.type()) {
      return this;
    }
    float[][] r = params.representableRange();
    QParams p = QParams.of(r[0], r[1], params.axis(), type, symmetric);
    return new CalibrationNode(name, tensor, kind, p, symmetric, method);
  }
}
