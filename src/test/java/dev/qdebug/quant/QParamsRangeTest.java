package dev.qdebug.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Zero and denormal ranges get a valid scale, as ONNX Runtime's {@code compute_scale_zp} gives
 * them (a scale below the smallest normal float becomes 1); extreme finite ranges keep theirs.
 */
class QParamsRangeTest {
  @Test
  void zeroAndDenormalRangesGetScaleOne() {
    float denormal = Float.MIN_VALUE * 1000; // ~1.4e-42
    for (boolean symmetric : new boolean[] {true, false}) {
      for (QType t : new QType[] {QType.INT8, QType.UINT8, QType.INT16, QType.INT4}) {
        for (float[] range : new float[][] {{0, 0}, {-denormal, denormal}, {0, Float.MIN_NORMAL}}) {
          QParams p = QParams.of(new float[] {range[0]}, new float[] {range[1]}, -1, t, symmetric);
          assertEquals(1f, p.scale()[0], t + " " + symmetric + " " + range[1]);
          assertTrue(p.zeroPoint()[0] >= t.qmin() && p.zeroPoint()[0] <= t.qmax());
        }
      }
    }
  }

  @Test
  void normalAndExtremeFiniteRangesKeepTheirScale() {
    QParams small = QParams.of(new float[] {-1e-30f}, new float[] {1e-30f}, -1, QType.INT8, true);
    assertEquals(1e-30 / 127.5, small.scale()[0], 1e-36);
    QParams big = QParams.of(new float[] {-3e38f}, new float[] {3e38f}, -1, QType.INT8, false);
    assertTrue(Float.isFinite(big.scale()[0]) && big.scale()[0] > 0, big.toString());
    QParams perChannel =
        QParams.of(new float[] {0, -2}, new float[] {0, 2}, 0, QType.INT8, true);
    assertEquals(1f, perChannel.scale()[0]);
    assertEquals(2f / 127.5f, perChannel.scale()[1], 1e-7);
  }
}
