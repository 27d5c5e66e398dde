package dev.qdebug.quant;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.DataException;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/** The one-pass finite check on observed and fake-quantized activations. */
class RequireFiniteTest {

  @Test
  void namesTheFirstNonFiniteValueAndItsIndex() {
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      float[] v = new float[1000];
      for (int i = 0; i < v.length; i++) {
        v[i] = (i % 7) * 1e30f; // large but finite
      }
      v[613] = bad;
      var t = Nd4j.create(v, new long[] {10, 100}, 'c');
      DataException e =
          assertThrows(
              DataException.class,
              () -> Calibrator.requireFinite(t, "conv1_out", "sample 3: tensor", "overflow"));
      assertTrue(e.getMessage().contains("'conv1_out'"), e.getMessage());
      assertTrue(e.getMessage().contains("flat index 613"), e.getMessage());
      assertTrue(e.getMessage().contains(Float.toString(bad)), e.getMessage());
    }
  }

  @Test
  void acceptsFiniteExtremesAndNonFloatTensors() {
    var t = Nd4j.create(new float[] {Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, 0f});
    assertDoesNotThrow(() -> Calibrator.requireFinite(t, "x", "w", "why"));
    var ints = Nd4j.create(new long[] {1, 2, 3}, new long[] {3}, DataType.LONG);
    assertDoesNotThrow(() -> Calibrator.requireFinite(ints, "x", "w", "why"));
  }

  @Test
  void findsNonFiniteInAStridedView() {
    var t = Nd4j.zeros(DataType.FLOAT, 4, 6);
    t.putScalar(2, 5, Float.NaN);
    var view = t.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
        org.nd4j.linalg.indexing.NDArrayIndex.interval(3, 6));
    assertThrows(DataException.class, () -> Calibrator.requireFinite(view, "x", "w", "why"));
  }
}
