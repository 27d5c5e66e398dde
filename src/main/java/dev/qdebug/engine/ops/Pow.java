package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Pow: base ^ exponent with numpy broadcasting; the output has the base's type, and the two
 * inputs may have different types (opset 12+). A floating-point base takes the exponent cast to
 * its type (one native op; a scalar exponent of 2 is a product, {@code x * x}); an integer base
 * is raised in double precision and cast back, truncating as numpy's {@code astype} does.
 */
final class Pow implements Op {
  private final OnnxNode node;
  private final boolean legacy;
  private final long legacyAxis;

  Pow(OnnxNode node, int opset) {
    this.node = node;
    this.legacy = opset < 7 && node.attrInt("broadcast", 0) != 0 && node.hasAttr("axis");
    this.legacyAxis = node.attrInt("axis", 0);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    INDArray y = in[1];
    if (legacy) {
      y = Broadcast.legacyAlign(node, y, x.rank(), legacyAxis);
    }
    DataType t = x.dataType();
    if (t == DataType.BOOL || y.dataType() == DataType.BOOL) {
      throw node.error("does not take bool inputs");
    }
    if (t.isFPType() && y.length() == 1 && y.rank() <= x.rank() && y.getDouble(0) == 2.0) {
      // x * x: the correctly rounded square, as pow gives it, at a tenth of pow's cost (the
      // variance of an exported LayerNorm)
      return new INDArray[] {Broadcast.binary("multiply", x, x, t)};
    }
    if (x.rank() < y.rank()) {
      // ND4J's Pow broadcasts between equal ranks only: numpy's leading ones made explicit
      long[] s = new long[y.rank()];
      java.util.Arrays.fill(s, 1);
      System.arraycopy(x.shape(), 0, s, s.length - x.rank(), x.rank());
      x = x.reshape(s);
    }
    if (t.isFPType()) {
      INDArray e = y.dataType() == t ? y : y.castTo(t);
      return new INDArray[] {Broadcast.binary("Pow", x, e, t)};
    }
    INDArray r =
        Broadcast.binary("Pow", x.castTo(DataType.DOUBLE), y.castTo(DataType.DOUBLE), DataType.DOUBLE);
    return new INDArray[] {r.castTo(t)};
  }
}
