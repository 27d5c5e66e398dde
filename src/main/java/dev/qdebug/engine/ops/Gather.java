package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.nio.FloatBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Gather: entries of data along axis picked by indices (int32 or int64, negative counting from the
 * end); the result has shape data[:axis] + indices + data[axis+1:].
 */
final class Gather implements Op {
  private final OnnxNode node;
  private final long axis;

  Gather(OnnxNode node, int opset) {
    this.node = node;
    axis = node.attrInt("axis", 0);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    INDArray indices = in[1];
    long[] shape = x.shape();
    int r = shape.length;
    int a = ShapeArgs.axis(node, axis, r);
    long dim = shape[a];
    long[] idx = ShapeArgs.longs(indices);
    for (int i = 0; i < idx.length; i++) {
      long k = idx[i] < 0 ? idx[i] + dim : idx[i];
      if (k < 0 || k >= dim) {
        throw node.error("index " + idx[i] + " is out of range for axis " + a + " of size " + dim);
      }
      idx[i] = k;
    }
    long[] ishape = indices.shape();
    long[] outShape = new long[r - 1 + ishape.length];
    System.arraycopy(shape, 0, outShape, 0, a);
    System.arraycopy(ishape, 0, outShape, a, ishape.length);
    System.arraycopy(shape, a + 1, outShape, a + ishape.length, r - a - 1);
    int outer = (int) ShapeArgs.product(shape, 0, a);
    int inner = (int) ShapeArgs.product(shape, a + 1, r);
    if (x.dataType() == DataType.FLOAT && ShapeArgs.product(outShape, 0, outShape.length) > 0
        && isDense(x)) {
      return new INDArray[] {gatherFloats(x, outShape, outer, dim, inner, idx)};
    }
    FlatData out = FlatData.zeros(x.dataType(), outShape);
    if (out.length == 0) {
      return new INDArray[] {out.toArray()};
    }
    FlatData.Source src = FlatData.source(x);
    int at = 0;
    for (int o = 0; o < outer; o++) {
      for (long k : idx) {
        src.copy((int) ((o * dim + k) * inner), out.data, at, inner);
        at += inner;
      }
    }
    return new INDArray[] {out.toArray()};
  }

  /**
   * Float data in place: each picked block copied from x's memory into the result's (no Java
   * arrays; a transformer's Gather of q, k and v from one [3, ...] tensor copies megabytes).
   */
  private static INDArray gatherFloats(
      INDArray x, long[] outShape, int outer, long dim, int inner, long[] idx) {
    INDArray y = Nd4j.createUninitialized(DataType.FLOAT, outShape, 'c');
    FloatBuffer src = x.data().asNioFloat();
    FloatBuffer dst = y.data().asNioFloat();
    int at = 0;
    for (int o = 0; o < outer; o++) {
      for (long k : idx) {
        int from = (int) ((o * dim + k) * inner);
        src.clear();
        src.position(from).limit(from + inner);
        dst.position(at);
        dst.put(src);
        at += inner;
      }
    }
    return y;
  }

  /** Values in c order from the start of x's own buffer. */
  private static boolean isDense(INDArray x) {
    return x.ordering() == 'c'
        && x.offset() == 0
        && x.data().offset() == 0
        && x.data().length() >= x.length()
        && x.length() <= Integer.MAX_VALUE
        && Shape.hasDefaultStridesForShape(x);
  }
}
