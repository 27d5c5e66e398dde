package dev.qdebug.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Each observer on data whose right answer is known independently. */
class ObserverTest {
  /** 200,000 values uniform in [-1, 1] plus one outlier at 50, in two batches. */
  static float[][] uniformWithOutlier() {
    Random r = new Random(7);
    float[] a = new float[100_000];
    float[] b = new float[100_000];
    for (int i = 0; i < a.length; i++) {
      a[i] = r.nextFloat() * 2 - 1;
      b[i] = r.nextFloat() * 2 - 1;
    }
    b[123] = 50f;
    return new float[][] {a, b};
  }

  static Range feed(Observer o, float[]... batches) {
    for (float[] v : batches) {
      o.observe(Nd4j.createFromArray(v));
    }
    return o.range();
  }

  /** Exact quantization MSE of {@code values} with the symmetric range [-t, t] of {@code type}. */
  static double mse(float[][] values, double t, QType type) {
    QParams p = QParams.of(new float[] {(float) -t}, new float[] {(float) t}, -1, type, true);
    double err = 0;
    long n = 0;
    for (float[] v : values) {
      for (float x : v) {
        float y = (FakeQuant.quantize(x, p.scale()[0], 0, type)) * p.scale()[0];
        err += (x - y) * (double) (x - y);
        n++;
      }
    }
    return err / n;
  }

  static float[][] gaussian(int n, long seed) {
    Random r = new Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return new float[][] {v};
  }

  @Test
  void maxPerTensorAndPerChannel() {
    INDArray w = Nd4j.createFromArray(new float[][] {{1, -3, 2}, {0.5f, 0.25f, -0.125f}});
    MaxObserver perChannel = new MaxObserver(0);
    perChannel.observe(w);
    Range r = perChannel.range();
    assertArrayEquals(new float[] {-3f, -0.125f}, r.min());
    assertArrayEquals(new float[] {2f, 0.5f}, r.max());
    assertArrayEquals(new float[] {3f, 0.5f}, r.thresholds());
    Range t = feed(new MaxObserver(), uniformWithOutlier());
    assertEquals(50f, t.max()[0]);
    assertThrows(IllegalStateException.class, () -> new MaxObserver().range());
  }

  @Test
  void percentileOfUniformIsKnown() {
    // |x| is uniform on [0, 1] (the one outlier is 5e-6 of the mass): the 99th percentile is 0.99
    Range r = feed(new PercentileObserver(99, QType.INT8, true), uniformWithOutlier());
    assertEquals(0.99, r.max()[0], 0.005);
    assertEquals(-0.99, r.min()[0], 0.005);
    // asymmetric: x is uniform on [-1, 1]: the 1st and 99th percentiles are -0.98 and 0.98
    Range a = feed(new PercentileObserver(99, QType.INT8, false), uniformWithOutlier());
    assertEquals(-0.98, a.min()[0], 0.005);
    assertEquals(0.98, a.max()[0], 0.005);
  }

  @Test
  void mseFindsTheOptimalClip() {
    // 4-bit symmetric on N(0, 1): the MSE-optimal clip is about 2.5 sigma (Banner et al., ACIQ),
    // far below the largest of 200,000 samples (about 4.5 sigma)
    float[][] data = gaussian(200_000, 3);
    Range r = feed(new MseObserver(QType.INT4, true), data);
    double chosen = mse(data, r.max()[0], QType.INT4);
    double best = Double.POSITIVE_INFINITY;
    double bestT = 0;
    for (int k = 1; k <= 1000; k++) {
      double t = 5.0 * k / 1000;
      double e = mse(data, t, QType.INT4);
      if (e < best) {
        best = e;
        bestT = t;
      }
    }
    assertTrue(chosen <= best * 1.02, "chosen clip " + r.max()[0] + " mse " + chosen + " vs best " + best + " at " + bestT);
    assertEquals(2.5, r.max()[0], 0.3);
  }

  /**
   * TensorRT's entropy calibration, written out plainly from its published description, on a
   * histogram of |x| built here directly from the data.
   */
  static double referenceKl(float[] v, double limit, int bins, int levels) {
    double[] h = new double[bins];
    double w = limit / bins;
    for (float x : v) {
      h[Math.min(bins - 1, (int) (Math.abs(x) / w))]++;
    }
    int last = bins;
    while (h[last - 1] == 0) {
      last--;
    }
    double bestKl = Double.POSITIVE_INFINITY;
    int bestI = last;
    for (int i = levels; i <= last; i++) { // thresholds beyond the largest value are pointless
      double[] p = java.util.Arrays.copyOf(h, i);
      for (int k = i; k < bins; k++) {
        p[i - 1] += h[k];
      }
      double[] q = new double[i];
      for (int j = 0; j < levels; j++) {
        int start = j * i / levels; // chunk j of the i bins, in exact integer arithmetic
        int end = (j + 1) * i / levels;
        double sum = 0;
        int nz = 0;
        for (int k = start; k < end; k++) {
          sum += h[k];
          nz += h[k] != 0 ? 1 : 0;
        }
        for (int k = start; k < end; k++) {
          q[k] = h[k] != 0 ? sum / nz : 0;
        }
      }
      double sp = java.util.Arrays.stream(p).sum();
      double sq = java.util.Arrays.stream(q).sum();
      double kl = 0;
      for (int k = 0; k < i; k++) {
        if (p[k] > 0) {
          kl += p[k] / sp * Math.log((p[k] / sp) / (q[k] > 0 ? q[k] / sq : 1e-10));
        }
      }
      if (kl < bestKl) {
        bestKl = kl;
        bestI = i;
      }
    }
    return bestI * w;
  }

  @Test
  void klMatchesTheReferenceAlgorithm() {
    // Laplace(0, 1): heavy tails
    Random r = new Random(11);
    float[] v = new float[100_000];
    float absmax = 0;
    for (int i = 0; i < v.length; i++) {
      double u = r.nextDouble() - 0.5;
      v[i] = (float) (-Math.signum(u) * Math.log(1 - 2 * Math.abs(u)));
      absmax = Math.max(absmax, Math.abs(v[i]));
    }
    Range got = feed(new KlObserver(QType.INT8, true), v);
    // our histogram's limit: the first power-of-two multiple of the first batch's max that covers it
    double expected = referenceKl(v, absmax * 2, 2048, 128);
    assertEquals(expected, got.thresholds()[0], 2 * absmax * 2 / 2048, "one bin of tolerance");
  }

  @Test
  void degenerateTensorsGetAUsableRange() {
    float[] zeros = new float[100];
    for (Observer o :
        new Observer[] {
          new MaxObserver(),
          new PercentileObserver(99.99, QType.INT8, true),
          new KlObserver(QType.INT8, true),
          new MseObserver(QType.INT8, false)
        }) {
      Range r = feed(o, zeros);
      QParams p = r.toParams(QType.INT8, true);
      assertEquals(1f, p.scale()[0], o.getClass().getSimpleName());
    }
  }

  @Test
  void paramsFollowTheSharedRule() {
    QParams sym = QParams.of(new float[] {-2f}, new float[] {1f}, -1, QType.INT8, true);
    assertEquals(2f / 127.5f, sym.scale()[0], 1e-9);
    assertEquals(0, sym.zeroPoint()[0]);
    QParams asym = QParams.of(new float[] {0f}, new float[] {5.1f}, -1, QType.UINT8, false);
    assertEquals(0.02f, asym.scale()[0], 1e-7);
    assertEquals(0, asym.zeroPoint()[0]);
    QParams neg = QParams.of(new float[] {-1f}, new float[] {3f}, -1, QType.INT8, false);
    assertEquals(4f / 255, neg.scale()[0], 1e-7);
    assertEquals(Math.rint(-128 + 1 / (4.0 / 255)), neg.zeroPoint()[0]);
    QParams u8sym = QParams.of(new float[] {-1f}, new float[] {1f}, -1, QType.UINT8, true);
    assertEquals(128, u8sym.zeroPoint()[0]);
  }
}
