package dev.qdebug.quant;

/**
 * KL divergence (entropy) calibration as TensorRT does it: over a 2048-bin histogram of |x|, try
 * every threshold from {@code L} bins up ({@code L = 2^(bits-1)} levels, 128 for int8); for each,
 * fold the tail into the last kept bin (reference P), squeeze the kept bins into {@code L} levels
 * and spread each level back evenly over its non-empty bins (candidate Q), and keep the threshold
 * with the smallest {@code KL(P || Q)}. Asymmetric ranges cut {@code [-t, t]} to what was seen.
 *
 * <p>Unlike TensorRT, whose histogram spans exactly {@code [0, max|x|]}, the streaming histogram
 * spans {@code [0, limit]} with {@code max|x| <= limit < 2 max|x|}, so the data fills between 1024
 * and 2048 of its bins, and thresholds past the last non-empty bin are not tried.
 */
public final class KlObserver extends HistogramObserver {
  public KlObserver(QType type, boolean symmetric) {
    super(type, symmetric);
  }

  @Override
  Range choose() {
    double[] h = hist.abs();
    int levels = 1 << (type.bits() - 1);
    int n = h.length;
    int last = n;
    while (last > 0 && h[last - 1] == 0) {
      last--;
    }
    if (last <= levels) {
      return clipTo(last * hist.binWidth());
    }
    double best = Double.POSITIVE_INFINITY;
    int bestI = last;
    double[] p = new double[n];
    double[] q = new double[n];
    // suffix sums of the bins beyond each cut (folded into P's last kept bin; Q leaves them out)
    double[] beyond = new double[n + 1];
    for (int i = n - 1; i >= 0; i--) {
      beyond[i] = beyond[i + 1] + h[i];
    }
    for (int i = levels; i <= last; i++) {
      System.arraycopy(h, 0, p, 0, i);
      p[i - 1] += beyond[i];
      // squeeze h[0:i] into `levels` chunks, spread back over the non-empty bins
      for (int j = 0; j < levels; j++) {
        int start = (int) ((long) j * i / levels);
        int end = (int) ((long) (j + 1) * i / levels);
        double sum = 0;
        int nonzero = 0;
        for (int k = start; k < end; k++) {
          sum += h[k];
          if (h[k] != 0) {
            nonzero++;
          }
        }
        for (int k = start; k < end; k++) {
          q[k] = h[k] != 0 ? sum / nonzero : 0;
        }
      }
      double kl = divergence(p, q, i);
      if (kl < best) {
        best = kl;
        bestI = i;
      }
    }
    return clipTo(bestI * hist.binWidth());
  }

  /** KL(P || Q) of the first {@code n} bins, each normalized; empty Q bins under P get 1e-10. */
  static double divergence(double[] p, double[] q, int n) {
    double sp = 0;
    double sq = 0;
    for (int i = 0; i < n; i++) {
      sp += p[i];
      sq += q[i];
    }
    if (sp == 0 || sq == 0) {
      return Double.POSITIVE_INFINITY;
    }
    double kl = 0;
    for (int i = 0; i < n; i++) {
      if (p[i] > 0) {
        double pi = p[i] / sp;
        double qi = q[i] > 0 ? q[i] / sq : 1e-10;
        kl += pi * Math.log(pi / qi);
      }
    }
    return kl;
  }
}
