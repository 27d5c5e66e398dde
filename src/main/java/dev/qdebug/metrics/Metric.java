package dev.qdebug.metrics;

import java.util.Arrays;
import java.util.Locale;

/**
 * Horizon's five metrics between a float tensor {@code a} and a quantized one {@code b}, both
 * flattened, and whether larger or smaller is better. Formulas (Horizon's {@code Loss}):
 *
 * <ul>
 *   <li>{@code cosine-similarity}: {@code dot(a, b) / (max(|a|, 1e-8) · max(|b|, 1e-8))};
 *       larger is better; 1 when both are all zero, 0 when only one is;
 *   <li>{@code mse}: {@code mean((a - b)^2)}; smaller is better;
 *   <li>{@code mre}: {@code mean(|a - b|)} (a mean absolute error, despite the name); smaller;
 *   <li>{@code sqnr}: {@code 10 · log10(|a| / |a - b|)}, half of the usual dB figure; larger;
 *       +inf when {@code a == b};
 *   <li>{@code chebyshev}: {@code max(|a - b|)}; smaller.
 * </ul>
 */
public enum Metric {
  COSINE_SIMILARITY("cosine-similarity", true),
  MSE("mse", false),
  MRE("mre", false),
  SQNR("sqnr", true),
  CHEBYSHEV("chebyshev", false);

  private final String label;
  private final boolean higherIsBetter;

  Metric(String label, boolean higherIsBetter) {
    this.label = label;
    this.higherIsBetter = higherIsBetter;
  }

  /** The name in tables, CSV columns and the CLI: {@code cosine-similarity}, {@code mse}, ... */
  public String label() {
    return label;
  }

  public boolean higherIsBetter() {
    return higherIsBetter;
  }

  /** The metric between {@code a} (float) and {@code b} (quantized) of equal length. */
  public double compute(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("lengths differ: " + a.length + " vs " + b.length);
    }
    return switch (this) {
      case COSINE_SIMILARITY -> cosine(a, b);
      case MSE -> mse(a, b);
      case MRE -> mre(a, b);
      case SQNR -> sqnr(a, b);
      case CHEBYSHEV -> chebyshev(a, b);
    };
  }

  /**
   * True when {@code x} is worse than {@code y} by this metric. NaN ranks after every number (as
   * Horizon sorts rankings: most sensitive first, NaN last): a number is worse than NaN.
   */
  public boolean worse(double x, double y) {
    if (Double.isNaN(x)) {
      return false;
    }
    if (Double.isNaN(y)) {
      return true;
    }
    return higherIsBetter ? x < y : x > y;
  }

  public static Metric parse(String s) {
    for (Metric m : values()) {
      if (m.label.equalsIgnoreCase(s.strip())) {
        return m;
      }
    }
    throw new IllegalArgumentException(
        "unknown metric '" + s + "'; expected one of "
            + Arrays.stream(values()).map(Metric::label).toList());
  }

  public static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    na = Math.sqrt(na);
    nb = Math.sqrt(nb);
    if (na == 0 && nb == 0) {
      return 1.0;
    }
    return dot / (Math.max(na, 1e-8) * Math.max(nb, 1e-8));
  }

  public static double mse(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      double d = (double) a[i] - b[i];
      s += d * d;
    }
    return a.length == 0 ? 0 : s / a.length;
  }

  public static double mre(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += Math.abs((double) a[i] - b[i]);
    }
    return a.length == 0 ? 0 : s / a.length;
  }

  public static double sqnr(float[] a, float[] b) {
    double na = 0;
    double nd = 0;
    for (int i = 0; i < a.length; i++) {
      na += (double) a[i] * a[i];
      double d = (double) a[i] - b[i];
      nd += d * d;
    }
    return 10 * Math.log10(Math.sqrt(na) / Math.sqrt(nd));
  }

  public static double chebyshev(float[] a, float[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs((double) a[i] - b[i]));
    }
    return m;
  }

  @Override
  public String toString() {
    return label.toLowerCase(Locale.ROOT);
  }
}
