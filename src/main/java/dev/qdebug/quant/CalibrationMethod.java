package dev.qdebug.quant;

import dev.qdebug.UsageException;
import java.util.Arrays;
import java.util.Locale;

/** How activation ranges are chosen. Weights always use per-channel (or per-tensor) max. */
public enum CalibrationMethod {
  /** Min-max: the largest values seen. */
  MAX,
  /** A percentile of the values (e.g. 99.99). */
  PERCENTILE,
  /** KL divergence (entropy), TensorRT's search over a 2048-bin histogram. */
  KL,
  /** The clip that minimizes the quantization MSE. */
  MSE,
  /**
   * Horizon's default: tries max, percentile 99.995 and KL, keeps the one whose calibrated model
   * has the best output cosine similarity on the first samples.
   */
  DEFAULT;

  /** Lower-case name, as the CLI and Horizon's tables write it. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** A fresh observer of this method for one activation tensor; not for {@link #DEFAULT}. */
  public Observer observer(QType type, boolean symmetric, double percentile) {
    return switch (this) {
      case MAX -> new MaxObserver();
      case PERCENTILE -> new PercentileObserver(percentile, type, symmetric);
      case KL -> new KlObserver(type, symmetric);
      case MSE -> new MseObserver(type, symmetric);
      case DEFAULT -> throw new IllegalStateException("DEFAULT chooses among the other methods");
    };
  }

  public static CalibrationMethod parse(String s) {
    for (CalibrationMethod m : values()) {
      if (m.label().equalsIgnoreCase(s.strip())) {
        return m;
      }
    }
    throw new UsageException(
        "--method: unknown calibration method '"
            + s
            + "'; expected one of "
            + Arrays.stream(values()).map(CalibrationMethod::label).toList());
  }
}
