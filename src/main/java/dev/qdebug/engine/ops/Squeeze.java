package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Squeeze: drops the given size-1 axes (attribute before opset 13, input from 13), or all. */
final class Squeeze implements Op {
  private final OnnxNode node;
  private final long[] axesAttr;
  private final boolean axesInput;

  Squeeze(OnnxNode node, int opset) {
    this.node = node;
    axesInput = opset >= 13;
    axesAttr = axesInput ? null : node.attrInts("axes").orElse(null);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] shape = x.shape();
    int r = shape.length;
    long[] ax = axesInput ? (ShapeArgs.named(in, 1) ? ShapeArgs.longs(in[1]) : null) : axesAttr;
    boolean[] drop = new boolean[r];
    if (ax == null || ax.length == 0) {
      for (int d = 0; d < r; d++) {
        drop[d] = shape[d] == 1;
      }
    } else {
      for (int d : ShapeArgs.axes(node, ax, r)) {
        if (shape[d] != 1) {
          throw node.error(
              "cannot squeeze axis " + d + " of size " + shape[d] + " in " + ShapeArgs.str(shape));
        }
        drop[d] = true;
      }
    }
    int k = 0;
    for (boolean b : drop) {
      k += b ? 0 : 1;
    }
    long[] out = new long[k];
    k = 0;
    for (int d = 0; d < r; d++) {
      if (!drop[d]) {
        out[k++] = shape[d];
      }
    }
    return new INDArray[] {ShapeArgs.reshape(x, out)};
  }
}
