package dev.qdebug.engine.ops;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Moving ND4J arrays to and from Java arrays, for the ops written as plain loops. */
final class NnArrays {
  private NnArrays() {}

  /**
   * The values of {@code a} in c order, as doubles (exact for every ONNX numeric type but 64-bit
   * ints).
   */
  static double[] doubles(INDArray a) {
    INDArray c = dense(a);
    return c.data().asDouble();
  }

  /** An array of type {@code type} and shape {@code shape} holding {@code v} (c order). */
  static INDArray fromDoubles(double[] v, long[] shape, DataType type) {
    INDArray d = Nd4j.create(v, shape, 'c');
    return d.dataType() == type ? d : d.castTo(type);
  }

  /** An int64 array of shape {@code shape} holding {@code v} (c order). */
  static INDArray fromLongs(long[] v, long[] shape) {
    return Nd4j.createFromArray(v).reshape('c', shape);
  }

  /** {@code a} itself when it is a whole c-ordered buffer, else a c-ordered copy. */
  static INDArray dense(INDArray a) {
    if (a.ordering() == 'c'
        && !a.isView()
        && a.data().length() == a.length()
        && org.nd4j.linalg.api.shape.Shape.hasDefaultStridesForShape(a)) { // not a permutation
      return a;
    }
    return a.dup('c');
  }

  /**
   * {@code x} zero-padded in its spatial dims (all but the first two) by {@code before} and {@code
   * after} elements.
   */
  static INDArray padSpatial(INDArray x, long[] before, long[] after) {
    return padSpatial(x, before, after, 0);
  }

  /** {@code x} padded in its spatial dims with {@code value}. */
  static INDArray padSpatial(INDArray x, long[] before, long[] after, double value) {
    long[] shape = x.shape().clone();
    INDArrayIndex[] idx = new INDArrayIndex[shape.length];
    idx[0] = NDArrayIndex.all();
    idx[1] = NDArrayIndex.all();
    for (int i = 0; i < before.length; i++) {
      long n = shape[i + 2];
      shape[i + 2] = n + before[i] + after[i];
      idx[i + 2] = NDArrayIndex.interval(before[i], before[i] + n);
    }
    INDArray p =
        value == 0
            ? Nd4j.zeros(x.dataType(), shape)
            : Nd4j.valueArrayOf(shape, value, x.dataType());
    p.get(idx).assign(x);
    return p;
  }
}
