package dev.qdebug.quant;

/**
 * Percentile: symmetric, the threshold is the {@code p}-th percentile of |x| (e.g. 99.99);
 * asymmetric, the range runs from the {@code (100 - p)}-th to the {@code p}-th percentile of x.
 * Percentiles are read from the histogram with linear interpolation inside a bin, so they are
 * exact to within one bin width (1/2048 of the largest |x|).
 */
public final class PercentileObserver extends HistogramObserver {
  private final double percent;

  public PercentileObserver(double percent, QType type, boolean symmetric) {
    super(type, symmetric);
    if (!(percent > 0 && percent <= 100)) {
      throw new IllegalArgumentException("percentile " + percent + " is not in (0, 100]");
    }
    this.percent = percent;
  }

  @Override
  Range choose() {
    double w = hist.binWidth();
    if (symmetric) {
      double t = quantile(hist.abs(), percent / 100, 0, w);
      return clipTo(t);
    }
    double[] s = hist.signed();
    double lo = quantile(s, 1 - percent / 100, -hist.limit(), w);
    double hi = quantile(s, percent / 100, -hist.limit(), w);
    return Range.of((float) Math.max(hist.min(), lo), (float) Math.min(hist.max(), hi));
  }

  /** The value below which fraction {@code q} of the histogram's mass lies. */
  static double quantile(double[] h, double q, double origin, double width) {
    double total = 0;
    for (double c : h) {
      total += c;
    }
    double target = q * total;
    double cum = 0;
    for (int i = 0; i < h.length; i++) {
      if (h[i] > 0 && cum + h[i] >= target) {
        double frac = (target - cum) / h[i];
        return origin + (i + frac) * width;
      }
      cum += h[i];
    }
    return origin + h.length * width;
  }
}
