package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The elementwise ops over one or more inputs with numpy broadcasting: Max, Min, Sum and Mean.
 * Inputs are folded left to right with one broadcasting native op per extra input; one input is
 * passed through unchanged.
 */
final class Variadic implements Op {
  private final OnnxNode node;
  private final String nd4jOp;
  private final boolean mean;

  private Variadic(OnnxNode node, String nd4jOp, boolean mean) {
    this.node = node;
    this.nd4jOp = nd4jOp;
    this.mean = mean;
  }

  static Op max(OnnxNode node, int opset) {
    return new Variadic(node, "maximum", false);
  }

  static Op min(OnnxNode node, int opset) {
    return new Variadic(node, "minimum", false);
  }

  static Op sum(OnnxNode node, int opset) {
    return new Variadic(node, "add", false);
  }

  static Op mean(OnnxNode node, int opset) {
    return new Variadic(node, "add", true);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    int n = 0;
    INDArray acc = null;
    for (INDArray x : in) {
      if (x == null) {
        continue;
      }
      if (acc != null && x.dataType() != acc.dataType()) {
        throw node.error(
            "inputs have different element types " + acc.dataType() + " and " + x.dataType());
      }
      acc = acc == null ? x : Broadcast.binary(nd4jOp, acc, x, acc.dataType());
      n++;
    }
    if (acc == null) {
      throw node.error("needs at least one input");
    }
    if (mean && n > 1) {
      acc.divi(n);
    }
    return new INDArray[] {acc};
  }
}
