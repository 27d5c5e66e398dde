package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Dropout at inference: the input passes through, and the optional mask output is all true (bool
 * from opset 10, the input's type before). A {@code training_mode} input that is true with a
 * non-zero ratio is refused: qdebug runs models for inference only.
 */
final class Dropout implements Op {
  private final OnnxNode node;
  private final boolean wantsMask;
  private final boolean boolMask;

  Dropout(OnnxNode node, int opset) {
    this.node = node;
    this.wantsMask = node.outputs().size() > 1 && !node.outputs().get(1).isEmpty();
    this.boolMask = opset >= 10;
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    if (in.length > 2 && in[2] != null && in[2].length() > 0 && in[2].getDouble(0) != 0) {
      double ratio = in.length > 1 && in[1] != null && in[1].length() > 0 ? in[1].getDouble(0) : 0.5;
      if (ratio != 0) {
        throw node.error("training_mode is true: random dropout is not supported (inference only)");
      }
    }
    if (!wantsMask) {
      return new INDArray[] {x};
    }
    DataType maskType = boolMask ? DataType.BOOL : x.dataType();
    INDArray mask = Nd4j.createUninitialized(maskType, x.shape());
    if (!mask.isEmpty()) {
      mask.assign(1);
    }
    return new INDArray[] {x, mask};
  }
}
