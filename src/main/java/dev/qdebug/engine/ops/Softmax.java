package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Softmax and LogSoftmax on ND4J's native ops (LogSoftmax as shifted values minus the log of their
 * exponentials' sum, finite where ND4J's own underflows). Opset 13 on: along the single dimension {@code axis}
 * (default -1). Before opset 13: the input is coerced to 2-D {@code [prod(dims before axis),
 * prod(dims from axis)]} (default axis 1) and normalized along the second dimension.
 */
final class Softmax implements Op {
  private final OnnxNode node;
  private final boolean log;
  private final boolean coerce2d;
  private final long axis;

  private Softmax(OnnxNode node, int opset, boolean log) {
    this.node = node;
    this.log = log;
    this.coerce2d = opset < 13;
    this.axis = node.attrInt("axis", coerce2d ? 1 : -1);
  }

  static Softmax softmax(OnnxNode node, int opset) {
    return new Softmax(node, opset, false);
  }

  static Softmax logSoftmax(OnnxNode node, int opset) {
    return new Softmax(node, opset, true);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    int rank = x.rank();
    if (!x.dataType().isFPType()) {
      throw node.error("input has element type " + x.dataType() + ", expected a float type");
    }
    int ax = (int) (axis < 0 ? axis + rank : axis);
    if (ax < 0 || ax >= Math.max(rank, 1) + (coerce2d ? 1 : 0)) {
      throw node.error(
          "attribute 'axis' is "
              + axis
              + ", out of range for input of shape "
              + Arrays.toString(x.shape()));
    }
    if (rank == 0) {
      return new INDArray[] {apply(x.reshape(1, 1), 1).reshape(new long[0])};
    }
    if (!coerce2d) {
      return new INDArray[] {apply(x, ax)};
    }
    long[] shape = x.shape();
    long outer = Window.product(Arrays.copyOfRange(shape, 0, ax));
    long inner = Window.product(Arrays.copyOfRange(shape, ax, rank));
    return new INDArray[] {apply(x.reshape('c', outer, inner), 1).reshape('c', shape)};
  }

  private INDArray apply(INDArray x, int dim) {
    if (log) {
      return logSoftmax(x, dim);
    }
    INDArray y = Nd4j.createUninitialized(x.dataType(), x.shape());
    Nd4j.exec(
        DynamicCustomOp.builder(log ? "log_softmax" : "softmax")
            .addInputs(x)
            .addOutputs(y)
            .addIntegerArguments(dim)
            .build());
    return y;
  }

  /**
   * {@code (x - max) - log(sum(exp(x - max)))} along {@code dim}: ND4J's {@code log_softmax} takes
   * the logarithm of the softmax, which underflows to -Infinity once a value lies about 104 below
   * its row's maximum (ONNX Runtime gives the finite value).
   */
  private static INDArray logSoftmax(INDArray x, int dim) {
    if (x.isEmpty()) {
      return x.dup();
    }
    INDArray max = x.max(true, dim);
    INDArray d = Broadcast.binary("subtract", x, max, x.dataType());
    INDArray logSum = org.nd4j.linalg.ops.transforms.Transforms.log(
        org.nd4j.linalg.ops.transforms.Transforms.exp(d, true).sum(true, dim), false);
    return Broadcast.binaryInPlace("subtract", d, logSum);
  }
}
