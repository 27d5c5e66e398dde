package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Where: condition ? x : y, the three inputs broadcast together (numpy style). ND4J's "select"
 * needs equal shapes, so inputs of another shape are expanded first.
 */
final class Where implements Op {
  private final OnnxNode node;

  Where(OnnxNode node, int opset) {
    this.node = node;
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray c = in[0];
    INDArray x = in[1];
    INDArray y = in[2];
    if (c.dataType() != DataType.BOOL) {
      throw node.error("condition must be bool, got " + c.dataType());
    }
    if (x.dataType() != y.dataType()) {
      throw node.error("X and Y have different element types " + x.dataType() + " and " + y.dataType());
    }
    long[] shape = Broadcast.shape(c.shape(), x.shape(), y.shape());
    INDArray out = Nd4j.createUninitialized(x.dataType(), shape);
    if (out.isEmpty()) {
      return new INDArray[] {out};
    }
    Nd4j.exec(
        DynamicCustomOp.builder("select")
            .addInputs(Broadcast.to(c, shape), Broadcast.to(x, shape), Broadcast.to(y, shape))
            .addOutputs(out)
            .build());
    return new INDArray[] {out};
  }
}
