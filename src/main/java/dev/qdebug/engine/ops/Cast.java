package dev.qdebug.engine.ops;

import dev.qdebug.ModelException;
import dev.qdebug.engine.Op;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Cast (to the type in attribute {@code to}) and CastLike (to the type of the second input).
 * Float to integer truncates toward zero, anything to bool is "not zero", as in numpy; an input
 * that already has the type is passed through.
 */
final class Cast implements Op {
  private final DataType to;

  private Cast(DataType to) {
    this.to = to;
  }

  static Op cast(OnnxNode node, int opset) {
    long code = node.attrInt("to");
    ElemType type;
    try {
      type = ElemType.of((int) code);
      return new Cast(Tensors.dtype(type));
    } catch (ModelException e) {
      throw node.error("cannot cast to element type " + code + ": " + e.getMessage());
    }
  }

  static Op castLike(OnnxNode node, int opset) {
    return new Cast(null);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    DataType t = to != null ? to : in[1].dataType();
    return new INDArray[] {x.dataType() == t ? x : x.castTo(t)};
  }
}
