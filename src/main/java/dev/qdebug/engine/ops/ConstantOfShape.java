package dev.qdebug.engine.ops;

import dev.qdebug.ModelException;
import dev.qdebug.engine.Op;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** ConstantOfShape: a tensor of the shape given as input, filled with the 1-element value. */
final class ConstantOfShape implements Op {
  private final OnnxNode node;
  private final DataType type;
  private final FlatData.Fill fill;

  ConstantOfShape(OnnxNode node, int opset) {
    this.node = node;
    if (node.hasAttr("value")) {
      INDArray v;
      try {
        v = Tensors.fromProto(node.attrTensor("value").orElseThrow());
      } catch (ModelException e) {
        throw node.error("attribute 'value': " + e.getMessage());
      }
      if (v.length() != 1) {
        throw node.error("attribute 'value' must hold one element, has " + v.length());
      }
      type = v.dataType();
      fill = FlatData.Fill.of(v);
    } else {
      type = DataType.FLOAT;
      fill = FlatData.Fill.ZERO;
    }
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    long[] shape = ShapeArgs.longs(in[0]);
    for (long d : shape) {
      if (d < 0) {
        throw node.error("negative dimension in shape " + ShapeArgs.str(shape));
      }
    }
    FlatData out = FlatData.zeros(type, shape);
    out.fill(fill);
    return new INDArray[] {out.toArray()};
  }
}
