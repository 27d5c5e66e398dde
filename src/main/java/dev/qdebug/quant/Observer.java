package dev.qdebug.quant;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Watches the values of one tensor over calibration data and picks the range to quantize. {@link
 * #observe} only accumulates statistics (call it once per batch, any number of times); {@link
 * #range} turns them into a range. Parameters then come from the one shared rule, {@link
 * QParams#of}.
 */
public interface Observer {
  /** Accumulates statistics of {@code x} (float32). */
  void observe(INDArray x);

  /**
   * The range to quantize, clipped where the method chooses.
   *
   * @throws IllegalStateException if nothing was observed
   */
  Range range();
}
