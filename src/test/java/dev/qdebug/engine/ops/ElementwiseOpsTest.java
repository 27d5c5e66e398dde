package dev.qdebug.engine.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.QdebugException;
import dev.qdebug.engine.Op;
import dev.qdebug.engine.OpRegistry;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The elementwise ops the ONNX node cases do not reach (or reach only inside expanded functions),
 * checked against per-element Java references, through the standard registry.
 */
class ElementwiseOpsTest {
  private static final float[] X = {-4f, -2.5f, -1f, -0.5f, -0f, 0.3f, 0.5f, 1.5f, 2.5f, 7f};

  private static NodeProto.Builder node(String opType, int inputs, int outputs) {
    NodeProto.Builder b = NodeProto.newBuilder().setName("n0").setOpType(opType);
    for (int i = 0; i < inputs; i++) {
      b.addInput("in" + i);
    }
    for (int i = 0; i < outputs; i++) {
      b.addOutput("out" + i);
    }
    return b;
  }

  private static AttributeProto intAttr(String name, long v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
  }

  private static AttributeProto floatAttr(String name, float v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
  }

  private static AttributeProto intsAttr(String name, long... v) {
    AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long x : v) {
      b.addInts(x);
    }
    return b.build();
  }

  private static Op op(NodeProto.Builder b, int opset) {
    return OpRegistry.standard().create(OnnxNode.of(b.build()), opset);
  }

  private static INDArray run1(NodeProto.Builder b, int opset, INDArray... in) {
    return op(b, opset).run(in)[0];
  }

  private static void assertClose(float[] expected, INDArray actual) {
    float[] a = actual.dup('c').castTo(DataType.FLOAT).data().asFloat();
    assertEquals(expected.length, a.length);
    for (int i = 0; i < a.length; i++) {
      assertEquals(expected[i], a[i], 1e-5 + 1e-5 * Math.abs(expected[i]), "element " + i);
    }
  }

  private static void unary(String opType, DoubleUnaryOperator f, AttributeProto... attrs) {
    NodeProto.Builder b = node(opType, 1, 1);
    for (AttributeProto a : attrs) {
      b.addAttribute(a);
    }
    INDArray x = Nd4j.createFromArray(X).reshape(2, 5);
    INDArray y = run1(b, 22, x);
    assertEquals(DataType.FLOAT, y.dataType(), opType);
    assertArrayEquals(new long[] {2, 5}, y.shape(), opType);
    float[] want = new float[X.length];
    for (int i = 0; i < X.length; i++) {
      want[i] = (float) f.applyAsDouble(X[i]);
    }
    assertClose(want, y);
    assertArrayEquals(X, x.dup('c').data().asFloat(), opType + " modified its input");
  }

  private static double softplus(double x) {
    return Math.log1p(Math.exp(x));
  }

  @Test
  void unaryFunctions() {
    unary("Relu", x -> Math.max(0, x));
    unary("Abs", Math::abs);
    unary("Neg", x -> -x);
    unary("Tanh", Math::tanh);
    unary("Sigmoid", x -> 1 / (1 + Math.exp(-x)));
    unary("Exp", Math::exp);
    unary("Floor", Math::floor);
    unary("Ceil", Math::ceil);
    unary("Round", Math::rint);
    unary("Softplus", ElementwiseOpsTest::softplus);
    unary("Mish", x -> x * Math.tanh(softplus(x)));
    unary("Elu", x -> x > 0 ? x : Math.expm1(x));
    unary("Elu", x -> x > 0 ? x : 0.3 * Math.expm1(x), floatAttr("alpha", 0.3f));
    unary("Selu", x -> 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * Math.expm1(x)));
    unary("Selu", x -> 2 * (x > 0 ? x : 0.5 * Math.expm1(x)), floatAttr("alpha", 0.5f), floatAttr("gamma", 2f));
    unary("LeakyRelu", x -> x > 0 ? x : 0.01 * x);
    unary("HardSigmoid", x -> Math.max(0, Math.min(1, 0.2 * x + 0.5)));
    unary("HardSigmoid", x -> Math.max(0, Math.min(1, 0.7 * x + 0.1)), floatAttr("alpha", 0.7f), floatAttr("beta", 0.1f));
    unary("HardSwish", x -> x * Math.max(0, Math.min(1, x / 6 + 0.5)));
    unary(
        "Gelu",
        x -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        AttributeProto.newBuilder().setName("approximate").setType(AttributeProto.AttributeType.STRING)
            .setS(com.google.protobuf.ByteString.copyFromUtf8("tanh")).build());
  }

  @Test
  void positiveDomainFunctions() {
    INDArray x = Nd4j.createFromArray(0.25f, 1f, 4f, 10f);
    assertClose(new float[] {0.5f, 1f, 2f, (float) Math.sqrt(10)}, run1(node("Sqrt", 1, 1), 13, x));
    assertClose(new float[] {(float) Math.log(0.25), 0f, (float) Math.log(4), (float) Math.log(10)}, run1(node("Log", 1, 1), 13, x));
    assertClose(new float[] {4f, 1f, 0.25f, 0.1f}, run1(node("Reciprocal", 1, 1), 13, x));
  }

  @Test
  void reluAndNegOnIntegers() {
    INDArray x = Nd4j.createFromArray(new byte[] {-5, 0, 7, -128});
    INDArray r = run1(node("Relu", 1, 1), 14, x);
    assertEquals(DataType.BYTE, r.dataType());
    assertArrayEquals(new long[] {0, 0, 7, 0}, r.data().asLong());
    INDArray n = run1(node("Neg", 1, 1), 13, Nd4j.createFromArray(new int[] {-5, 0, 7}));
    assertArrayEquals(new long[] {5, 0, -7}, n.data().asLong());
  }

  @Test
  void floatOnlyOpsRefuseIntegers() {
    QdebugException e =
        assertThrows(QdebugException.class, () -> run1(node("Sigmoid", 1, 1), 13, Nd4j.createFromArray(1, 2)));
    assertTrue(e.getMessage().contains("'n0'"), e.getMessage());
  }

  @Test
  void comparisonsAndLogicBroadcast() {
    INDArray a = Nd4j.createFromArray(1f, 2f, 3f, 4f, 5f, 6f).reshape(2, 3);
    INDArray b = Nd4j.createFromArray(2f, 2f, 7f);
    String[] ops = {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"};
    boolean[][] want = {
      {false, true, false, false, false, false},
      {true, false, true, false, false, true},
      {true, true, true, false, false, true},
      {false, false, false, true, true, false},
      {false, true, false, true, true, false},
    };
    for (int k = 0; k < ops.length; k++) {
      INDArray y = run1(node(ops[k], 2, 1), 19, a, b);
      assertEquals(DataType.BOOL, y.dataType(), ops[k]);
      assertArrayEquals(new long[] {2, 3}, y.shape(), ops[k]);
      long[] v = y.dup('c').data().asLong();
      for (int i = 0; i < 6; i++) {
        assertEquals(want[k][i] ? 1 : 0, v[i], ops[k] + " element " + i);
      }
    }
    INDArray p = Nd4j.createFromArray(true, false, true, false).reshape(2, 2);
    INDArray q = Nd4j.createFromArray(true, false);
    assertArrayEquals(new long[] {1, 0, 1, 0}, run1(node("And", 2, 1), 7, p, q).dup('c').data().asLong());
    assertArrayEquals(new long[] {1, 0, 1, 0}, run1(node("Or", 2, 1), 7, p, q).dup('c').data().asLong());
    assertArrayEquals(new long[] {0, 0, 0, 0}, run1(node("Xor", 2, 1), 7, p, q).dup('c').data().asLong());
    assertArrayEquals(new long[] {0, 1, 0, 1}, run1(node("Not", 1, 1), 1, p).dup('c').data().asLong());
  }

  @Test
  void whereBroadcastsAllThree() {
    INDArray c = Nd4j.createFromArray(true, false, true); // [3]
    INDArray x = Nd4j.createFromArray(1f, 2f).reshape(2, 1); // [2, 1]
    INDArray y = Nd4j.scalar(-1f); // []
    INDArray r = run1(node("Where", 3, 1), 16, c, x, y);
    assertArrayEquals(new long[] {2, 3}, r.shape());
    assertArrayEquals(new float[] {1f, -1f, 1f, 2f, -1f, 2f}, r.dup('c').data().asFloat());
  }

  @Test
  void variadicMaxMinSumMean() {
    INDArray a = Nd4j.createFromArray(1f, 5f, 3f);
    INDArray b = Nd4j.createFromArray(4f, 2f, 6f).reshape(3, 1);
    INDArray c = Nd4j.scalar(3f);
    assertArrayEquals(
        new float[] {4, 5, 4, 3, 5, 3, 6, 6, 6},
        run1(node("Max", 3, 1), 13, a, b, c).dup('c').data().asFloat());
    assertArrayEquals(
        new float[] {1, 3, 3, 1, 2, 2, 1, 3, 3},
        run1(node("Min", 3, 1), 13, a, b, c).dup('c').data().asFloat());
    assertArrayEquals(
        new float[] {8, 12, 10, 6, 10, 8, 10, 14, 12},
        run1(node("Sum", 3, 1), 13, a, b, c).dup('c').data().asFloat());
    assertClose(
        new float[] {8f / 3, 4, 10f / 3, 2, 10f / 3, 8f / 3, 10f / 3, 14f / 3, 4},
        run1(node("Mean", 3, 1), 13, a, b, c));
    assertSame(a, run1(node("Mean", 1, 1), 13, a));
    INDArray i = Nd4j.createFromArray(new byte[] {-3, 100});
    INDArray j = Nd4j.createFromArray(new byte[] {7, -100});
    assertArrayEquals(new long[] {7, 100}, run1(node("Max", 2, 1), 13, i, j).data().asLong());
  }

  @Test
  void reductions() {
    INDArray x = Nd4j.createFromArray(1f, -2f, 3f, 4f, 5f, -6f).reshape(2, 3);
    NodeProto.Builder sum = node("ReduceSum", 2, 1);
    INDArray s = run1(sum, 13, x, Nd4j.createFromArray(new long[] {1}));
    assertArrayEquals(new long[] {2, 1}, s.shape());
    assertArrayEquals(new float[] {2, 3}, s.dup('c').data().asFloat());
    // no axes: all; keepdims=0 gives a scalar
    INDArray all = run1(node("ReduceSum", 1, 1).addAttribute(intAttr("keepdims", 0)), 13, x);
    assertEquals(0, all.rank());
    assertEquals(5f, all.getFloat(0));
    // empty axes with noop_with_empty_axes: identity
    assertSame(x, run1(node("ReduceSum", 2, 1).addAttribute(intAttr("noop_with_empty_axes", 1)), 13, x, Nd4j.create(DataType.LONG, 0)));
    // attribute form (ReduceMax before 18), negative axis
    INDArray mx = run1(node("ReduceMax", 1, 1).addAttribute(intsAttr("axes", -2)).addAttribute(intAttr("keepdims", 0)), 13, x);
    assertArrayEquals(new long[] {3}, mx.shape());
    assertArrayEquals(new float[] {4, 5, 3}, mx.data().asFloat());
    INDArray mn = run1(node("ReduceMin", 2, 1), 18, x, Nd4j.createFromArray(new long[] {0, 1}));
    assertArrayEquals(new long[] {1, 1}, mn.shape());
    assertEquals(-6f, mn.getFloat(0));
    INDArray pr = run1(node("ReduceProd", 1, 1).addAttribute(intsAttr("axes", 1)), 13, x);
    assertArrayEquals(new float[] {-6, -120}, pr.dup('c').data().asFloat());
    INDArray l2 = run1(node("ReduceL2", 1, 1).addAttribute(intsAttr("axes", 1)), 13, x);
    assertClose(new float[] {(float) Math.sqrt(14), (float) Math.sqrt(77)}, l2);
    INDArray mean = run1(node("ReduceMean", 2, 1), 18, x, Nd4j.createFromArray(new long[] {1}));
    assertClose(new float[] {2f / 3, 1f}, mean);
    // integer mean keeps the type (truncating)
    INDArray im = run1(node("ReduceMean", 1, 1).addAttribute(intsAttr("axes", 1)), 13, Nd4j.createFromArray(new int[] {1, 2, 4, 4}).reshape(2, 2));
    assertEquals(DataType.INT, im.dataType());
    assertArrayEquals(new long[] {1, 4}, im.dup('c').data().asLong());
    // an empty reduced dimension gives the identity of the reduction
    INDArray e = Nd4j.create(DataType.FLOAT, 2, 0);
    assertArrayEquals(new float[] {0, 0}, run1(node("ReduceSum", 1, 1).addAttribute(intsAttr("axes", 1)).addAttribute(intAttr("keepdims", 0)), 11, e).data().asFloat());
  }

  @Test
  void castCastLikeDropoutSize() {
    INDArray x = Nd4j.createFromArray(-2.7f, -0.5f, 0f, 2.5f, 3.7f);
    INDArray i = run1(node("Cast", 1, 1).addAttribute(intAttr("to", 6)), 19, x);
    assertEquals(DataType.INT, i.dataType());
    assertArrayEquals(new long[] {-2, 0, 0, 2, 3}, i.data().asLong());
    INDArray b = run1(node("Cast", 1, 1).addAttribute(intAttr("to", 9)), 19, x);
    assertArrayEquals(new long[] {1, 1, 0, 1, 1}, b.data().asLong());
    assertSame(x, run1(node("Cast", 1, 1).addAttribute(intAttr("to", 1)), 19, x));
    INDArray like = run1(node("CastLike", 2, 1), 19, x, Nd4j.createFromArray(new double[] {0}));
    assertEquals(DataType.DOUBLE, like.dataType());
    QdebugException bad =
        assertThrows(QdebugException.class, () -> op(node("Cast", 1, 1).addAttribute(intAttr("to", 17)), 19));
    assertTrue(bad.getMessage().contains("'n0'") && bad.getMessage().contains("FLOAT8E4M3FN"), bad.getMessage());

    INDArray[] d = op(node("Dropout", 1, 2), 13).run(new INDArray[] {x});
    assertSame(x, d[0]);
    assertEquals(DataType.BOOL, d[1].dataType());
    assertArrayEquals(new long[] {1, 1, 1, 1, 1}, d[1].data().asLong());
    assertEquals(1, op(node("Dropout", 1, 1), 13).run(new INDArray[] {x}).length);
    INDArray[] training = {x, Nd4j.scalar(0.5f), Nd4j.scalar(true)};
    assertThrows(QdebugException.class, () -> op(node("Dropout", 3, 1), 13).run(training));

    INDArray size = run1(node("Size", 1, 1), 13, Nd4j.create(DataType.FLOAT, 2, 3, 4));
    assertEquals(DataType.LONG, size.dataType());
    assertEquals(0, size.rank());
    assertEquals(24L, size.getLong(0));
  }

  @Test
  void clipForms() {
    INDArray x = Nd4j.createFromArray(-3f, -1f, 0f, 2f, 6f, 9f);
    NodeProto.Builder old = node("Clip", 1, 1).addAttribute(floatAttr("min", 0f)).addAttribute(floatAttr("max", 6f));
    assertArrayEquals(new float[] {0, 0, 0, 2, 6, 6}, run1(old, 6, x).data().asFloat());
    assertArrayEquals(new float[] {-3, -1, 0, 2, 6, 9}, run1(node("Clip", 1, 1), 6, x).data().asFloat());
    INDArray[] maxOnly = {x, null, Nd4j.scalar(1f)};
    assertArrayEquals(new float[] {-3, -1, 0, 1, 1, 1}, op(node("Clip", 3, 1), 13).run(maxOnly)[0].data().asFloat());
    INDArray u = Nd4j.createFromArray(new int[] {0, 100, 200, 255}).castTo(DataType.UBYTE);
    INDArray[] ints = {u, Nd4j.scalar(50).castTo(DataType.UBYTE), Nd4j.scalar(210).castTo(DataType.UBYTE)};
    INDArray cu = op(node("Clip", 3, 1), 13).run(ints)[0];
    assertEquals(DataType.UBYTE, cu.dataType());
    assertArrayEquals(new long[] {50, 100, 200, 210}, cu.data().asLong());
  }

  @Test
  void preluPaths() {
    INDArray x = Nd4j.createFromArray(-1f, 2f, -3f, 4f, -5f, 6f, -7f, 8f).reshape(2, 2, 2);
    INDArray slope = Nd4j.createFromArray(0.5f, 2f).reshape(2, 1); // per channel (axis 1)
    float[] want = {-0.5f, 2f, -6f, 4f, -2.5f, 6f, -14f, 8f};
    Op p = op(node("PRelu", 2, 1), 16);
    assertArrayEquals(want, p.run(new INDArray[] {x, slope})[0].dup('c').data().asFloat());
    // a second run with the same slope uses the kept alpha; another batch size re-derives it
    assertArrayEquals(want, p.run(new INDArray[] {x, slope})[0].dup('c').data().asFloat());
    INDArray x1 = x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1)).dup();
    assertArrayEquals(new float[] {-0.5f, 2f, -6f, 4f}, p.run(new INDArray[] {x1, slope})[0].dup('c').data().asFloat());
    // rank 1 and integer inputs take the composed path
    INDArray r1 = p.run(new INDArray[] {Nd4j.createFromArray(-2f, 3f), Nd4j.scalar(0.25f)})[0];
    assertArrayEquals(new float[] {-0.5f, 3f}, r1.data().asFloat());
    INDArray ri = p.run(new INDArray[] {Nd4j.createFromArray(-2, 3), Nd4j.createFromArray(3, 3)})[0];
    assertArrayEquals(new long[] {-6, 3}, ri.data().asLong());
  }

  @Test
  void integerDivisionTruncatesWrapsAndRefusesZero() {
    INDArray a = Nd4j.createFromArray(7, -7, Integer.MIN_VALUE);
    INDArray b = Nd4j.createFromArray(2, 2, -1);
    // MIN / -1 wraps to MIN (numpy) instead of trapping in native code
    assertArrayEquals(new long[] {3, -3, Integer.MIN_VALUE}, run1(node("Div", 2, 1), 14, a, b).data().asLong());
    QdebugException e =
        assertThrows(
            QdebugException.class,
            () -> run1(node("Div", 2, 1), 14, a, Nd4j.createFromArray(1, 0, 1)));
    assertTrue(e.getMessage().contains("division by zero"), e.getMessage());
    // exact comparisons: Long.MIN_VALUE is not mistaken for zero
    INDArray l = Nd4j.createFromArray(new long[] {Long.MIN_VALUE, 9});
    assertArrayEquals(new long[] {1, 9}, run1(node("Div", 2, 1), 14, l, Nd4j.createFromArray(new long[] {Long.MIN_VALUE, 1})).data().asLong());
    assertThrows(QdebugException.class, () -> run1(node("Div", 2, 1), 14, l, Nd4j.createFromArray(new long[] {0, 1})));
    INDArray u = Nd4j.createFromArray(3, 250).castTo(DataType.UBYTE);
    INDArray v = Nd4j.createFromArray(5, 10).castTo(DataType.UBYTE);
    assertArrayEquals(new long[] {254, 240}, run1(node("Sub", 2, 1), 14, u, v).data().asLong());
  }

  @Test
  void legacyBroadcastAxis() {
    INDArray a = Nd4j.zeros(DataType.FLOAT, 2, 3, 4);
    INDArray b = Nd4j.createFromArray(1f, 2f, 3f);
    NodeProto.Builder add = node("Add", 2, 1).addAttribute(intAttr("broadcast", 1)).addAttribute(intAttr("axis", 1));
    INDArray y = run1(add, 6, a, b);
    assertArrayEquals(new long[] {2, 3, 4}, y.shape());
    assertEquals(2f, y.getFloat(0, 1, 3));
    assertEquals(3f, y.getFloat(1, 2, 0));
  }

  @Test
  void powKeepsTheBaseType() {
    INDArray f = Nd4j.createFromArray(2f, 3f, 4f);
    INDArray iexp = Nd4j.createFromArray(new long[] {3, 2, -1});
    INDArray y = run1(node("Pow", 2, 1), 15, f, iexp);
    assertEquals(DataType.FLOAT, y.dataType());
    assertArrayEquals(new float[] {8f, 9f, 0.25f}, y.data().asFloat());
    INDArray ib = Nd4j.createFromArray(2, 3, 4);
    INDArray yi = run1(node("Pow", 2, 1), 15, ib, Nd4j.createFromArray(0.5f, 2f, 1.5f));
    assertEquals(DataType.INT, yi.dataType());
    assertArrayEquals(new long[] {1, 9, 8}, yi.data().asLong());
  }
}
