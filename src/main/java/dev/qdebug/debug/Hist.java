package dev.qdebug.debug;

/**
 * A histogram of equal-width bins over the data's own range, as NumPy's {@code histogram} and
 * matplotlib's {@code hist(bins=n)} compute it: edges {@code lo + i * (hi - lo) / n}, every bin
 * half-open {@code [edge_i, edge_{i+1})} except the last, which also holds {@code hi}. A range of
 * width 0 becomes {@code [v - 0.5, v + 0.5]}; no values give the range {@code [0, 1]}. Non-finite
 * values are left out.
 *
 * @param edges {@code n + 1} bin edges
 * @param counts {@code n} counts
 */
record Hist(double[] edges, long[] counts) {
  static Hist of(float[] values, int bins, boolean skipZeros) {
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (float v : values) {
      if (Float.isFinite(v) && !(skipZeros && v == 0)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    if (lo > hi) {
      lo = 0;
      hi = 1;
    } else if (lo == hi) {
      lo -= 0.5;
      hi += 0.5;
    }
    double[] edges = new double[bins + 1];
    for (int i = 0; i <= bins; i++) {
      edges[i] = lo + (hi - lo) * i / bins;
    }
    edges[bins] = hi;
    long[] counts = new long[bins];
    double width = hi - lo;
    for (float f : values) {
      if (!Float.isFinite(f) || (skipZeros && f == 0)) {
        continue;
      }
      int b = (int) ((f - lo) / width * bins);
      b = Math.max(0, Math.min(bins - 1, b));
      // the division may round across an edge; the edges decide
      while (b > 0 && f < edges[b]) {
        b--;
      }
      while (b < bins - 1 && f >= edges[b + 1]) {
        b++;
      }
      counts[b]++;
    }
    return new Hist(edges, counts);
  }

  long total() {
    long t = 0;
    for (long c : counts) {
      t += c;
    }
    return t;
  }

  long max() {
    long m = 0;
    for (long c : counts) {
      m = Math.max(m, c);
    }
    return m;
  }
}
