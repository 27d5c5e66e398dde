package dev.qdebug.debug;

import dev.qdebug.metrics.Metric;
import java.util.Arrays;

/** Small statistics over per-sample scores, NaN-aware. */
final class Stats {
  private Stats() {}

  /** Mean of the non-NaN values; NaN if there are none. */
  static double nanMean(double[] v) {
    double s = 0;
    int n = 0;
    for (double x : v) {
      if (!Double.isNaN(x)) {
        s += x;
        n++;
      }
    }
    return n == 0 ? Double.NaN : s / n;
  }

  /** The worst non-NaN value by {@code m}. */
  static double worst(double[] v, Metric m) {
    double w = Double.NaN;
    for (double x : v) {
      if (!Double.isNaN(x) && (Double.isNaN(w) || m.worse(x, w))) {
        w = x;
      }
    }
    return w;
  }

  /**
   * The value {@code p} percent of the way from the worst sample to the best (nearest rank):
   * the 5th percentile for metrics where higher is better, the 95th where lower is better.
   */
  static double percentileTowardsWorst(double[] v, Metric m, double p) {
    double[] s = Arrays.stream(v).filter(x -> !Double.isNaN(x)).sorted().toArray();
    if (s.length == 0) {
      return Double.NaN;
    }
    int rank = (int) Math.ceil(p / 100 * s.length) - 1;
    rank = Math.max(0, Math.min(s.length - 1, rank));
    return m.higherIsBetter() ? s[rank] : s[s.length - 1 - rank];
  }
}
