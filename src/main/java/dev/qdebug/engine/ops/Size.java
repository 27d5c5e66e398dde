package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Size: the number of elements of the input, as an int64 scalar. */
final class Size implements Op {
  Size(OnnxNode node, int opset) {}

  @Override
  public INDArray[] run(INDArray[] in) {
    return new INDArray[] {Nd4j.scalar(in[0].length())};
  }
}
