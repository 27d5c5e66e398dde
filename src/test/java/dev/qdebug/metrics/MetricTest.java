package dev.qdebug.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Horizon's formulas against values worked out by hand. */
class MetricTest {
  static final float[] A = {3, 4, 0};
  static final float[] B = {3, 0, 4};

  @Test
  void handValues() {
    // dot = 9, |a| = |b| = 5
    assertEquals(9.0 / 25, Metric.COSINE_SIMILARITY.compute(A, B), 1e-12);
    // diff = (0, 4, -4): squares 0, 16, 16
    assertEquals(32.0 / 3, Metric.MSE.compute(A, B), 1e-12);
    assertEquals(8.0 / 3, Metric.MRE.compute(A, B), 1e-12);
    assertEquals(4.0, Metric.CHEBYSHEV.compute(A, B), 1e-12);
    // 10 log10(|a| / |a - b|) = 10 log10(5 / sqrt(32))
    assertEquals(10 * Math.log10(5 / Math.sqrt(32)), Metric.SQNR.compute(A, B), 1e-12);
  }

  @Test
  void degenerateCases() {
    float[] z = {0, 0, 0};
    assertEquals(1.0, Metric.COSINE_SIMILARITY.compute(z, z));
    assertEquals(0.0, Metric.COSINE_SIMILARITY.compute(A, z));
    assertEquals(Double.POSITIVE_INFINITY, Metric.SQNR.compute(A, A));
    assertEquals(0.0, Metric.MSE.compute(A, A));
  }

  @Test
  void orderingPutsNanLast() {
    assertTrue(Metric.COSINE_SIMILARITY.worse(0.5, 0.9));
    assertTrue(Metric.MSE.worse(0.9, 0.5));
    assertTrue(Metric.MSE.worse(1.0, Double.NaN));
    assertTrue(!Metric.MSE.worse(Double.NaN, 1.0));
  }
}
