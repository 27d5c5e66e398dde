package dev.qdebug.quant;

/**
 * MSE: of 256 candidate thresholds {@code t = k/256 · max|x|}, the one whose quantization (clip to
 * {@code [-t, t]} cut to what was seen, then round to the grid) gives the smallest mean squared
 * error over the histogram (each bin's count at its centre).
 */
public final class MseObserver extends HistogramObserver {
  static final int CANDIDATES = 256;

  public MseObserver(QType type, boolean symmetric) {
    super(type, symmetric);
  }

  @Override
  Range choose() {
    double[] s = hist.signed();
    double w = hist.binWidth();
    double origin = -hist.limit();
    double absmax = Math.max(Math.abs(hist.min()), Math.abs(hist.max()));
    Range best = null;
    double bestErr = Double.POSITIVE_INFINITY;
    for (int k = 1; k <= CANDIDATES; k++) {
      Range r = clipTo(absmax * k / CANDIDATES);
      QParams qp = r.toParams(type, symmetric);
      float scale = qp.scale()[0];
      long zp = qp.zeroPoint()[0];
      double err = 0;
      for (int i = 0; i < s.length; i++) {
        if (s[i] == 0) {
          continue;
        }
        float x = (float) (origin + (i + 0.5) * w);
        float y = (FakeQuant.quantize(x, scale, zp, type) - zp) * scale;
        double d = x - y;
        err += s[i] * d * d;
      }
      if (err < bestErr) {
        bestErr = err;
        best = r;
      }
    }
    return best;
  }
}
