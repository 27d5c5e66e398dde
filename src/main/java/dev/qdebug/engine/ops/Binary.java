package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The two-input elementwise ops with numpy broadcasting: arithmetic (Add, Sub, Mul, Div),
 * comparisons (Equal, Less, LessOrEqual, Greater, GreaterOrEqual; bool output) and logic (And,
 * Or, Xor), each one broadcasting ND4J custom op. Integer types keep C semantics as numpy does:
 * unsigned types wrap around, integer division truncates toward zero.
 *
 * <p>Opset &lt; 7 models may carry the legacy {@code broadcast}/{@code axis} attributes; an
 * explicit axis lines the second input up with the first from that axis on.
 */
final class Binary implements Op {
  private final OnnxNode node;
  private final String nd4jOp;
  private final boolean boolOut;
  private final boolean boolIn;
  private final boolean division;
  private final long legacyAxis;
  private final boolean legacy;

  private Binary(OnnxNode node, int opset, String nd4jOp, boolean boolOut, boolean boolIn) {
    this.node = node;
    this.nd4jOp = nd4jOp;
    this.boolOut = boolOut;
    this.boolIn = boolIn;
    this.division = nd4jOp.equals("divide");
    this.legacy = opset < 7 && node.attrInt("broadcast", 0) != 0 && node.hasAttr("axis");
    this.legacyAxis = node.attrInt("axis", 0);
  }

  static Op add(OnnxNode node, int opset) {
    return new Binary(node, opset, "add", false, false);
  }

  static Op sub(OnnxNode node, int opset) {
    return new Binary(node, opset, "subtract", false, false);
  }

  static Op mul(OnnxNode node, int opset) {
    return new Binary(node, opset, "multiply", false, false);
  }

  static Op div(OnnxNode node, int opset) {
    return new Binary(node, opset, "divide", false, false);
  }

  static Op equal(OnnxNode node, int opset) {
    return new Binary(node, opset, "equals", true, false);
  }

  static Op less(OnnxNode node, int opset) {
    return new Binary(node, opset, "less", true, false);
  }

  static Op lessOrEqual(OnnxNode node, int opset) {
    return new Binary(node, opset, "less_equal", true, false);
  }

  static Op greater(OnnxNode node, int opset) {
    return new Binary(node, opset, "greater", true, false);
  }

  static Op greaterOrEqual(OnnxNode node, int opset) {
    return new Binary(node, opset, "greater_equal", true, false);
  }

  static Op and(OnnxNode node, int opset) {
    return new Binary(node, opset, "boolean_and", true, true);
  }

  static Op or(OnnxNode node, int opset) {
    return new Binary(node, opset, "boolean_or", true, true);
  }

  static Op xor(OnnxNode node, int opset) {
    return new Binary(node, opset, "boolean_xor", true, true);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray a = in[0];
    INDArray b = in[1];
    if (a.dataType() != b.dataType()) {
      throw node.error("inputs have different element types " + a.dataType() + " and " + b.dataType());
    }
    if (boolIn && a.dataType() != DataType.BOOL) {
      throw node.error("needs bool inputs, got " + a.dataType());
    }
    if (legacy) {
      b = Broadcast.legacyAlign(node, b, a.rank(), legacyAxis);
    }
    if (division && !a.dataType().isFPType()) {
      return new INDArray[] {integerDivide(a, b)};
    }
    return new INDArray[] {Broadcast.binary(nd4jOp, a, b, boolOut ? DataType.BOOL : a.dataType())};
  }

  /**
   * Integer division, truncating toward zero. A zero divisor (and MIN / -1 for int32/int64) would
   * trap in native code and kill the JVM, so divisors are checked first: zero is an error, -1
   * goes through a Java loop that wraps like numpy.
   */
  private INDArray integerDivide(INDArray a, INDArray b) {
    if (b.length() > 0 && contains(b, 0)) {
      throw node.error("integer division by zero");
    }
    DataType t = a.dataType();
    boolean signedWide = t == DataType.INT || t == DataType.LONG;
    if (signedWide && b.length() > 0 && contains(b, -1)) {
      long[] shape = Broadcast.shape(a.shape(), b.shape());
      long[] x = Broadcast.to(a, shape).dup('c').data().asLong();
      long[] y = Broadcast.to(b, shape).dup('c').data().asLong();
      long[] q = new long[x.length];
      for (int i = 0; i < q.length; i++) {
        q[i] = t == DataType.INT ? (int) (x[i] / y[i]) : x[i] / y[i];
      }
      return Nd4j.createFromArray(q).castTo(t).reshape(shape);
    }
    return Broadcast.binary("divide", a, b, t);
  }

  /** Below this many elements a divisor is scanned in Java (shape arithmetic) instead of natively. */
  private static final long SCAN_IN_JAVA = 64;

  /** Whether integer array {@code b} holds {@code v} anywhere. */
  private static boolean contains(INDArray b, long v) {
    if (b.length() > SCAN_IN_JAVA) {
      return b.eq(v).any();
    }
    for (long i = 0, n = b.length(); i < n; i++) {
      if (b.getLong(i) == v) {
        return true;
      }
    }
    return false;
  }
}
