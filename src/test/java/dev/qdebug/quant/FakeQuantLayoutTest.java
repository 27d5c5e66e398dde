package dev.qdebug.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * FakeQuant reads its input in place when the values lie in c order at the start of the buffer,
 * and copies otherwise: every layout an op can hand it (views with an offset, permuted and
 * f-ordered arrays) must give the result of a plain c-ordered copy, bit for bit, and match the
 * formula computed here element by element.
 */
class FakeQuantLayoutTest {
  static float reference(float x, float scale, long zp, QType t) {
    float q = (float) Math.rint(x / scale) + zp;
    q = q < t.qmin() ? t.qmin() : (q > t.qmax() ? t.qmax() : q);
    return (q - zp) * scale;
  }

  @Test
  void everyLayoutGivesTheDenseResult() {
    Nd4j.getRandom().setSeed(3);
    INDArray base = Nd4j.rand(DataType.FLOAT, 3, 6, 5, 7).subi(0.5).muli(10);
    List<INDArray> layouts =
        List.of(
            base.get(NDArrayIndex.interval(1, 3), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all()),
            base.permute(0, 1, 3, 2),
            base.dup('f'),
            base.get(NDArrayIndex.all(), NDArrayIndex.interval(2, 5), NDArrayIndex.all(), NDArrayIndex.all()),
            base.reshape('c', 3 * 6, 35),
            base);
    float[] scales = {0.05f, 0.11f, 0.3f, 0.07f, 0.2f, 0.013f};
    for (INDArray x : layouts) {
      long c = x.size(1);
      float[] s = new float[(int) c];
      for (int i = 0; i < s.length; i++) {
        s[i] = scales[i % scales.length];
      }
      long[] zp = new long[(int) c];
      for (QParams p :
          List.of(
              QParams.perTensor(0.037f, 3, QType.INT8),
              QParams.perTensor(0.1f, 128, QType.UINT8),
              new QParams(s, zp, 1, QType.INT8))) {
        INDArray got = FakeQuant.apply(x, p);
        INDArray want = FakeQuant.apply(x.dup('c'), p);
        assertArrayEquals(x.shape(), got.shape());
        float[] g = got.dup('c').data().asFloat();
        assertArrayEquals(want.dup('c').data().asFloat(), g);
        float[] v = x.dup('c').data().asFloat();
        long inner = x.length() / (x.size(0) * c);
        for (int i = 0; i < v.length; i++) {
          int ch = p.perChannel() ? (int) ((i / inner) % c) : 0;
          assertArrayEquals(
              new float[] {reference(v[i], p.scale()[ch], p.zeroPoint()[ch], p.type())},
              new float[] {g[i]},
              "element " + i);
        }
        assertArrayEquals(v, dev.qdebug.engine.Tensors.floats(x));
      }
    }
  }
}
