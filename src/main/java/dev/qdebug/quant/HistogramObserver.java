package dev.qdebug.quant;

import dev.qdebug.engine.Tensors;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Base of the observers that choose a clipping threshold from a histogram of the tensor's values
 * (per tensor). Symmetric: the range is {@code [-t, t]} cut to what was seen; asymmetric: the
 * methods choose each end from the signed histogram where they can, else {@code [max(min, -t),
 * min(max, t)]}.
 */
abstract class HistogramObserver implements Observer {
  /** Bins per side of zero: 2048, as TensorRT's entropy calibration uses for |x|. */
  static final int BINS = 2048;

  final Histogram hist = new Histogram(BINS);
  final QType type;
  final boolean symmetric;

  HistogramObserver(QType type, boolean symmetric) {
    this.type = type;
    this.symmetric = symmetric;
  }

  @Override
  public void observe(INDArray x) {
    hist.add(Tensors.floats(x));
  }

  @Override
  public Range range() {
    if (hist.count() == 0) {
      throw new IllegalStateException("nothing observed");
    }
    if (hist.max() == hist.min()) {
      return Range.of(hist.min(), hist.max());
    }
    return choose();
  }

  abstract Range choose();

  /** {@code [-t, t]} cut to the observed [min, max]. */
  Range clipTo(double t) {
    float lo = (float) Math.max(hist.min(), -t);
    float hi = (float) Math.min(hist.max(), t);
    return Range.of(lo, hi);
  }
}
