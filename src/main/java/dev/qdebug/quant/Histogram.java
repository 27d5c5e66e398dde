package dev.qdebug.quant;

/**
 * A histogram of values over {@code [-limit, limit]} with a fixed number of equal bins, and of
 * their absolute values. When a value falls outside, the limit doubles and adjacent bins merge in
 * pairs, which is exact (no value changes bin relative to the others), so batches can stream in
 * without a first pass to find the range. Also tracks the exact min and max.
 */
final class Histogram {
  private final int bins; // per side; the signed histogram has 2 * bins
  private double limit;
  private final double[] neg; // neg[i]: count of x in [-(i+1)w, -i w)
  private final double[] pos; // pos[i]: count of x in [i w, (i+1) w)
  private float min = Float.POSITIVE_INFINITY;
  private float max = Float.NEGATIVE_INFINITY;
  private long count;

  Histogram(int bins) {
    this.bins = bins;
    this.neg = new double[bins];
    this.pos = new double[bins];
  }

  void add(float[] v) {
    float lo = min;
    float hi = max;
    for (float f : v) {
      if (f < lo) {
        lo = f;
      }
      if (f > hi) {
        hi = f;
      }
    }
    min = lo;
    max = hi;
    double need = Math.max(Math.abs((double) lo), Math.abs((double) hi));
    if (limit == 0) {
      limit = need > 0 ? need : 1e-30;
    }
    while (need >= limit) {
      grow();
    }
    double scale = bins / limit;
    for (float f : v) {
      if (f >= 0) {
        int i = (int) (f * scale);
        pos[Math.min(i, bins - 1)]++;
      } else {
        int i = (int) (-f * scale);
        neg[Math.min(i, bins - 1)]++;
      }
    }
    count += v.length;
  }

  private void grow() {
    merge(pos);
    merge(neg);
    limit *= 2;
  }

  private void merge(double[] h) {
    for (int i = 0; i < bins / 2; i++) {
      h[i] = h[2 * i] + h[2 * i + 1];
    }
    for (int i = bins / 2; i < bins; i++) {
      h[i] = 0;
    }
  }

  int bins() {
    return bins;
  }

  double limit() {
    return limit;
  }

  double binWidth() {
    return limit / bins;
  }

  float min() {
    return min;
  }

  float max() {
    return max;
  }

  long count() {
    return count;
  }

  /** Counts of |x| per bin of width {@link #binWidth()} from 0. */
  double[] abs() {
    double[] a = new double[bins];
    for (int i = 0; i < bins; i++) {
      a[i] = pos[i] + neg[i];
    }
    return a;
  }

  /** Counts of x from -limit to limit, {@code 2 * bins} bins. */
  double[] signed() {
    double[] s = new double[2 * bins];
    for (int i = 0; i < bins; i++) {
      s[bins - 1 - i] = neg[i];
      s[bins + i] = pos[i];
    }
    return s;
  }
}
