package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Flatten: 2-D [prod(dims before axis), prod(dims from axis)]; axis may be negative. */
final class Flatten implements Op {
  private final OnnxNode node;
  private final long axis;

  Flatten(OnnxNode node, int opset) {
    this.node = node;
    axis = node.attrInt("axis", 1);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    long[] s = in[0].shape();
    int r = s.length;
    long a = axis < 0 ? axis + r : axis;
    if (a < 0 || a > r) {
      throw node.error("axis " + axis + " is out of range for rank " + r);
    }
    long[] out = {ShapeArgs.product(s, 0, (int) a), ShapeArgs.product(s, (int) a, r)};
    return new INDArray[] {ShapeArgs.reshape(in[0], out)};
  }
}
