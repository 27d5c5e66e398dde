package dev.qdebug.debug;

import java.util.Arrays;

/**
 * The statistics of one box of a box plot, as matplotlib's {@code boxplot} draws it: quartiles by
 * linear interpolation between order statistics (NumPy's default percentile: position {@code p (n -
 * 1)}), whiskers at the most extreme values within {@code 1.5 IQR} of the box, everything beyond
 * them an outlier. NaN values are left out; no values give NaN statistics.
 *
 * @param lowerWhisker the smallest value {@code >= q1 - 1.5 (q3 - q1)}
 * @param upperWhisker the largest value {@code <= q3 + 1.5 (q3 - q1)}
 * @param outliers the values outside the whiskers, the most extreme first (at most {@code
 *     keepOutliers} of them)
 * @param outlierCount how many values lie outside the whiskers
 */
record BoxStats(
    int count,
    double min,
    double q1,
    double median,
    double mean,
    double q3,
    double max,
    double lowerWhisker,
    double upperWhisker,
    double[] outliers,
    int outlierCount) {

  static BoxStats of(float[] values, int keepOutliers) {
    double[] s = new double[values.length];
    int n = 0;
    double sum = 0;
    for (float v : values) {
      if (!Float.isNaN(v)) {
        s[n++] = v;
        sum += v;
      }
    }
    if (n == 0) {
      double nan = Double.NaN;
      return new BoxStats(0, nan, nan, nan, nan, nan, nan, nan, nan, new double[0], 0);
    }
    s = Arrays.copyOf(s, n);
    Arrays.sort(s);
    double q1 = quantile(s, 0.25);
    double med = quantile(s, 0.5);
    double q3 = quantile(s, 0.75);
    double iqr = q3 - q1;
    double loFence = q1 - 1.5 * iqr;
    double hiFence = q3 + 1.5 * iqr;
    int lo = 0;
    while (lo < n && s[lo] < loFence) {
      lo++;
    }
    int hi = n - 1;
    while (hi >= 0 && s[hi] > hiFence) {
      hi--;
    }
    // matplotlib: a whisker never ends inside the box
    double lw = lo < n ? Math.min(s[lo], q1) : q1;
    double uw = hi >= 0 ? Math.max(s[hi], q3) : q3;
    int outliers = lo + (n - 1 - hi);
    int keep = Math.min(outliers, keepOutliers);
    double[] kept = new double[keep];
    int i = 0;
    int a = 0;
    int b = n - 1;
    while (i < keep) {
      boolean lowLeft = a < lo;
      boolean highLeft = b > hi;
      if (lowLeft && (!highLeft || q1 - s[a] >= s[b] - q3)) {
        kept[i++] = s[a++];
      } else {
        kept[i++] = s[b--];
      }
    }
    return new BoxStats(n, s[0], q1, med, sum / n, q3, s[n - 1], lw, uw, kept, outliers);
  }

  /** NumPy's linear-interpolation quantile of sorted {@code s}. */
  static double quantile(double[] s, double p) {
    double pos = p * (s.length - 1);
    int i = (int) Math.floor(pos);
    double frac = pos - i;
    if (i + 1 >= s.length) {
      return s[s.length - 1];
    }
    return s[i] + (s[i + 1] - s[i]) * frac;
  }
}
