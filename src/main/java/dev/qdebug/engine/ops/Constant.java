package dev.qdebug.engine.ops;

import dev.qdebug.ModelException;
import dev.qdebug.engine.Op;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Constant: the tensor of its value, value_float(s) or value_int(s) attribute. */
final class Constant implements Op {
  private final INDArray value;

  Constant(OnnxNode node, int opset) {
    if (node.hasAttr("value")) {
      try {
        value = Tensors.fromProto(node.attrTensor("value").orElseThrow());
      } catch (ModelException e) {
        throw node.error("attribute 'value': " + e.getMessage());
      }
    } else if (node.hasAttr("value_float")) {
      value = Nd4j.scalar(DataType.FLOAT, node.attrFloat("value_float", 0f));
    } else if (node.hasAttr("value_floats")) {
      float[] v = node.attrFloats("value_floats").orElseThrow();
      value = v.length == 0 ? Nd4j.create(DataType.FLOAT, 0) : Nd4j.createFromArray(v);
    } else if (node.hasAttr("value_int")) {
      value = Nd4j.scalar(DataType.LONG, node.attrInt("value_int"));
    } else if (node.hasAttr("value_ints")) {
      value = ShapeArgs.longVector(node.attrInts("value_ints").orElseThrow());
    } else if (node.hasAttr("sparse_value")) {
      throw node.error("sparse_value is not supported (only dense constants are)");
    } else if (node.hasAttr("value_string") || node.hasAttr("value_strings")) {
      throw node.error("string constants are not supported");
    } else {
      throw node.error("has none of the attributes value, value_float(s), value_int(s)");
    }
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    return new INDArray[] {value};
  }
}
