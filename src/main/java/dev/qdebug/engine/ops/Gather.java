package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

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
    FlatData out = FlatData.zeros(x.dataType(), outShape);
    if (out.length == 0) {
      return new INDArray[] {out.toArray()};
    }
    int outer = (int) ShapeArgs.product(shape, 0, a);
    int inner = (int) ShapeArgs.product(shape, a + 1, r);
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
}
