package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Unsqueeze: inserts size-1 axes at the given positions of the output (attribute before opset 13,
 * input from 13; any order, negative counting from the output's end).
 */
final class Unsqueeze implements Op {
  private final OnnxNode node;
  private final long[] axesAttr;
  private final boolean axesInput;

  Unsqueeze(OnnxNode node, int opset) {
    this.node = node;
    axesInput = opset >= 13;
    axesAttr = axesInput ? null : node.attrInts("axes").orElse(null);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] ax = axesInput ? (ShapeArgs.named(in, 1) ? ShapeArgs.longs(in[1]) : null) : axesAttr;
    if (ax == null) {
      throw node.error("has no axes");
    }
    long[] shape = x.shape();
    int outRank = shape.length + ax.length;
    boolean[] insert = new boolean[outRank];
    for (int d : ShapeArgs.axes(node, ax, outRank)) {
      insert[d] = true;
    }
    long[] out = new long[outRank];
    int k = 0;
    for (int d = 0; d < outRank; d++) {
      out[d] = insert[d] ? 1 : shape[k++];
    }
    return new INDArray[] {ShapeArgs.reshape(x, out)};
  }
}
