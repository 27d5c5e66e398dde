package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Identity: passes its input through (the same array; ops never modify their inputs). */
final class Identity implements Op {
  Identity(OnnxNode node, int opset) {}

  @Override
  public INDArray[] run(INDArray[] in) {
    return new INDArray[] {in[0]};
  }
}
