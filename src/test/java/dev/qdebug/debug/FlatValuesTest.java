package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.qdebug.engine.Tensors;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@link Tensors#floats}, the reader the analyses use: an array read without a copy gives the
 * same values, in the same order, as a C-order copy of it, whatever its layout.
 */
class FlatValuesTest {
  static float[] copied(INDArray a) {
    return a.dup('c').data().asFloat();
  }

  static void same(INDArray a) {
    assertArrayEquals(copied(a), Tensors.floats(a), a.shapeInfoToString());
  }

  @Test
  void everyLayoutGivesTheValuesOfACOrderCopy() {
    Nd4j.getRandom().setSeed(3);
    INDArray x = Nd4j.rand(DataType.FLOAT, 4, 3, 5, 2);
    same(x); // its whole buffer: read as it is
    same(x.permute(0, 2, 3, 1)); // other strides, the whole buffer
    same(x.get(NDArrayIndex.interval(1, 3))); // a view at an offset
    same(x.get(NDArrayIndex.all(), NDArrayIndex.point(1))); // a strided view
    same(x.dup('f')); // Fortran order
    same(x.reshape(4, 30)); // another shape of the same buffer
    same(Nd4j.rand(DataType.DOUBLE, 2, 3)); // another type
    same(Nd4j.scalar(2.5f));
    same(x.get(NDArrayIndex.point(2)).reshape(1, 30)); // a view reshaped
  }

  @Test
  void perSampleSplitsTheSameValues() {
    INDArray x = Nd4j.rand(DataType.FLOAT, 3, 2, 4);
    INDArray p = x.permute(0, 2, 1);
    float[][] rows = PartialModels.perSample(p, 3);
    float[] all = copied(p);
    for (int s = 0; s < 3; s++) {
      assertArrayEquals(java.util.Arrays.copyOfRange(all, s * 8, (s + 1) * 8), rows[s]);
    }
  }
}
