package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Expand: broadcasts the input against the shape input, numpy style in both directions. */
final class Expand implements Op {
  private final OnnxNode node;

  Expand(OnnxNode node, int opset) {
    this.node = node;
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] target = ShapeArgs.longs(in[1]);
    long[] shape = x.shape();
    int r = Math.max(shape.length, target.length);
    long[] out = new long[r];
    long[] src = new long[r];
    for (int d = 0; d < r; d++) {
      int i = d - (r - shape.length);
      int t = d - (r - target.length);
      long a = i >= 0 ? shape[i] : 1;
      long b = t >= 0 ? target[t] : 1;
      src[d] = a;
      if (a == b || b == 1) {
        out[d] = a;
      } else if (a == 1) {
        out[d] = b;
      } else {
        throw node.error(
            "cannot broadcast " + ShapeArgs.str(shape) + " to " + ShapeArgs.str(target));
      }
    }
    if (java.util.Arrays.equals(out, src)) {
      return new INDArray[] {ShapeArgs.reshape(x, out)};
    }
    if (ShapeArgs.product(out, 0, r) == 0) {
      return new INDArray[] {FlatData.zeros(x.dataType(), out).toArray()};
    }
    long[] strides = FlatData.strides(src);
    int[][] off = new int[r][];
    for (int d = 0; d < r; d++) {
      off[d] = FlatData.offsets(0, src[d] == 1 ? 0 : 1, out[d], strides[d]);
    }
    return new INDArray[] {
      FlatData.gather(FlatData.of(x).withShape(src), out, off, FlatData.Fill.ZERO).toArray()
    };
  }
}
