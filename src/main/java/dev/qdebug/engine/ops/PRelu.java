package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.engine.Workspaces;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.api.ops.impl.scalar.ScalarMin;
import org.nd4j.linalg.factory.Nd4j;

/**
 * PRelu: x &lt; 0 ? slope * x : x, the slope broadcast to x (unidirectionally). For a
 * floating-point x of rank 2 or more this is ND4J's "prelu", one native op; that op wants the
 * slope expanded to x's shape without the first dimension, which is done once per slope array
 * (slopes are constants in practice) and kept. Other cases (integer types, rank 1, a slope that
 * varies along the first dimension) take four ops.
 */
final class PRelu implements Op {
  private final OnnxNode node;
  /** The last broadcast slope and what it was made for: one immutable value, safe across threads. */
  private record Cached(INDArray slope, long[] shape, INDArray alpha) {}

  private volatile Cached cache;

  PRelu(OnnxNode node, int opset) {
    this.node = node;
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    INDArray slope = in[1];
    if (slope.dataType() != x.dataType()) {
      throw node.error("slope is " + slope.dataType() + ", input is " + x.dataType());
    }
    long[] shape = x.shape();
    if (!Arrays.equals(Broadcast.shape(shape, slope.shape()), shape)) {
      throw node.error(
          "slope shape " + Arrays.toString(slope.shape()) + " does not broadcast to input shape "
              + Arrays.toString(shape));
    }
    INDArray out = x.ulike();
    if (out.isEmpty()) {
      return new INDArray[] {out};
    }
    long[] s = slope.shape();
    boolean batchwise = s.length == shape.length && s[0] != 1;
    if (x.dataType().isFPType() && shape.length >= 2 && !batchwise) {
      Nd4j.exec(
          DynamicCustomOp.builder("prelu")
              .addInputs(x, alphaFor(slope, shape))
              .addOutputs(out)
              .build());
      return new INDArray[] {out};
    }
    Nd4j.getExecutioner().exec(new RectifiedLinear(x, out, 0.0));
    INDArray neg = x.ulike();
    Nd4j.getExecutioner().exec(new ScalarMin(x, null, neg, 0));
    Broadcast.binaryInPlace("multiply", neg, slope);
    return new INDArray[] {out.addi(neg)};
  }

  private INDArray alphaFor(INDArray slope, long[] shape) {
    Cached c = cache;
    if (c != null && c.slope() == slope && Arrays.equals(c.shape(), shape)) {
      return c.alpha();
    }
    long[] inner = Arrays.copyOfRange(shape, 1, shape.length);
    long[] s = slope.shape();
    INDArray a = slope;
    if (s.length == shape.length) { // [1, ...]: drop the leading 1
      a = slope.reshape(Arrays.copyOfRange(s, 1, s.length));
    }
    INDArray slopeView = a;
    // kept across runs: outside the session's workspace
    INDArray alpha = Workspaces.outside(() -> Broadcast.to(slopeView, inner).dup('c'));
    cache = new Cached(slope, shape, alpha);
    return alpha;
  }
}
