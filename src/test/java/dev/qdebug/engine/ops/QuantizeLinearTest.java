package dev.qdebug.engine.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.ModelException;
import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * QuantizeLinear / DequantizeLinear against values worked out by hand, and against an
 * independent per-element Java reference ({@code q = clamp(rint(x / s) + zp)} in float32, the
 * formula ONNX Runtime computes), never against the op itself.
 */
class QuantizeLinearTest {

  private static NodeProto.Builder node(String opType, boolean zeroPoint) {
    NodeProto.Builder b =
        NodeProto.newBuilder().setName("q0").setOpType(opType).addInput("x").addInput("s");
    if (zeroPoint) {
      b.addInput("zp");
    }
    return b.addOutput("y");
  }

  private static AttributeProto intAttr(String name, long v) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.INT)
        .setI(v)
        .build();
  }

  private static Op quantize(NodeProto.Builder b) {
    return new QuantizeLinear(OnnxNode.of(b.build()), 21);
  }

  private static Op dequantize(NodeProto.Builder b) {
    return new DequantizeLinear(OnnxNode.of(b.build()), 21);
  }

  private static INDArray floats(float... v) {
    return Nd4j.createFromArray(v);
  }

  private static INDArray scalar(float v) {
    return Nd4j.scalar(v);
  }

  private static INDArray typed(DataType t, int... v) {
    return Nd4j.createFromArray(v).castTo(t);
  }

  /** A rank-0 zero point of type {@code t}. */
  private static INDArray zp(DataType t, int v) {
    return typed(t, v).reshape(new long[0]);
  }

  private static long[] values(INDArray a) {
    return a.dup('c').data().asLong();
  }

  @Test
  void tiesRoundHalfToEven() {
    Op q = quantize(node("QuantizeLinear", true));
    INDArray x = floats(-3.5f, -2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.5f, 4.5f);
    INDArray y = q.run(new INDArray[] {x, scalar(1f), zp(DataType.BYTE, 0)})[0];
    assertEquals(DataType.BYTE, y.dataType());
    // half to even; half away from zero would give -4 -3 -2 -1 1 2 3 4 5
    assertArrayEquals(new long[] {-4, -2, -2, 0, 0, 2, 2, 4, 4}, values(y));

    // ties produced by the division itself: 0.25 / 0.5 = 0.5 etc.; zero point added after rounding
    INDArray x2 = floats(0.25f, 0.75f, 1.25f, 1.75f, -0.25f, -0.75f);
    INDArray y2 = q.run(new INDArray[] {x2, scalar(0.5f), zp(DataType.UBYTE, 10)})[0];
    assertEquals(DataType.UBYTE, y2.dataType());
    assertArrayEquals(new long[] {10, 12, 12, 14, 10, 8}, values(y2));
  }

  @Test
  void saturatesToTheOutputRange() {
    Op q = quantize(node("QuantizeLinear", true));
    INDArray x = floats(-1000f, -129f, -128.5f, 126.5f, 127.5f, 1000f, Float.POSITIVE_INFINITY);
    assertArrayEquals(
        new long[] {-128, -128, -128, 126, 127, 127, 127},
        values(q.run(new INDArray[] {x, scalar(1f), zp(DataType.BYTE, 0)})[0]));
    // the zero point is added before saturating: -129 + 10 = -119 fits, 126 + 10 = 136 does not
    assertArrayEquals(
        new long[] {-128, -119, -118, 127, 127, 127, 127},
        values(q.run(new INDArray[] {x, scalar(1f), zp(DataType.BYTE, 10)})[0]));
    // uint8 with zero point 128
    INDArray xu = floats(-1000f, -128.4f, -128.6f, 0f, 127f, 127.6f, 1000f);
    INDArray zpu = zp(DataType.UBYTE, 128);
    assertArrayEquals(
        new long[] {0, 0, 0, 128, 255, 255, 255},
        values(q.run(new INDArray[] {xu, scalar(1f), zpu})[0]));
    // int16 and uint16
    INDArray x16 = floats(-40000f, -32768.5f, 32766.5f, 40000f);
    INDArray y16 = q.run(new INDArray[] {x16, scalar(1f), zp(DataType.SHORT, 0)})[0];
    assertEquals(DataType.SHORT, y16.dataType());
    assertArrayEquals(new long[] {-32768, -32768, 32766, 32767}, values(y16));
    INDArray yu16 =
        q.run(new INDArray[] {floats(-5f, 65534.5f, 70000f), scalar(1f), zp(DataType.UINT16, 0)})[0];
    assertEquals(DataType.UINT16, yu16.dataType());
    assertArrayEquals(new long[] {0, 65534, 65535}, values(yu16));
  }

  @Test
  void withoutZeroPointTheOutputIsUint8OrOutputDtype() {
    INDArray x = floats(-3f, 2.4f, 300f);
    INDArray y = quantize(node("QuantizeLinear", false)).run(new INDArray[] {x, scalar(1f)})[0];
    assertEquals(DataType.UBYTE, y.dataType());
    assertArrayEquals(new long[] {0, 2, 255}, values(y));

    NodeProto.Builder b = node("QuantizeLinear", false).addAttribute(intAttr("output_dtype", 3));
    INDArray y8 = quantize(b).run(new INDArray[] {x, scalar(1f)})[0];
    assertEquals(DataType.BYTE, y8.dataType());
    assertArrayEquals(new long[] {-3, 2, 127}, values(y8));
  }

  @Test
  void perAxisUsesEachChannelsScaleAndZeroPoint() {
    // x: [1, 3, 2] along axis 1: channel scales 0.5, 1, 2 and zero points 0, 10, -5
    NodeProto.Builder b = node("QuantizeLinear", true).addAttribute(intAttr("axis", 1));
    INDArray x = floats(1.25f, -0.75f, 2.5f, 3.5f, 5f, -7f).reshape(1, 3, 2);
    INDArray s = floats(0.5f, 1f, 2f);
    INDArray zp = typed(DataType.BYTE, 0, 10, -5);
    INDArray y = quantize(b).run(new INDArray[] {x, s, zp})[0];
    assertArrayEquals(new long[] {1, 3, 2}, y.shape());
    // 1.25/0.5 = 2.5 -> 2; -0.75/0.5 = -1.5 -> -2; 2.5 -> 2 + 10; 3.5 -> 4 + 10;
    // 5/2 = 2.5 -> 2 - 5; -7/2 = -3.5 -> -4 - 5
    assertArrayEquals(new long[] {2, -2, 12, 14, -3, -9}, values(y));

    // the same with a negative axis, on a 4-D input where the channel axis is not the last
    NodeProto.Builder b4 = node("QuantizeLinear", true).addAttribute(intAttr("axis", -3));
    INDArray x4 = floats(1.25f, -0.75f, 2.5f, 3.5f, 5f, -7f).reshape(1, 3, 1, 2);
    assertArrayEquals(
        new long[] {2, -2, 12, 14, -3, -9},
        values(quantize(b4).run(new INDArray[] {x4, s, zp})[0]));
  }

  /** The reference, element by element in float32, exactly as ONNX Runtime computes it. */
  private static long reference(float x, float scale, int zp, long lo, long hi) {
    float quotient = x / scale;
    double q = Math.rint(quotient) + zp;
    return (long) Math.max(lo, Math.min(hi, q));
  }

  @Test
  void matchesTheJavaReferenceBitForBitPerTensorAndPerAxis() {
    Random r = new Random(7);
    int c = 5;
    int inner = 4000;
    float[] scales = {0.0123f, 0.37f, 3.3f, 0.1f, 0.007812f};
    int[] zps = {0, 17, -3, 127, -128};
    float[] x = new float[c * inner];
    for (int i = 0; i < x.length; i++) {
      float s = scales[i / inner];
      // half the values sit exactly on or next to a rounding tie
      x[i] = r.nextBoolean()
          ? (float) (r.nextGaussian() * 80 * s)
          : (r.nextInt(400) - 200 + 0.5f) * s;
    }
    INDArray xa = floats(x).reshape(1, c, inner);

    // per axis, int8
    NodeProto.Builder b = node("QuantizeLinear", true).addAttribute(intAttr("axis", 1));
    long[] got =
        values(quantize(b).run(new INDArray[] {xa, floats(scales), typed(DataType.BYTE, zps)})[0]);
    int mismatches = 0;
    int reciprocalWouldDiffer = 0;
    for (int i = 0; i < x.length; i++) {
      int ch = i / inner;
      long want = reference(x[i], scales[ch], zps[ch], -128, 127);
      if (got[i] != want) {
        mismatches++;
      }
      long viaReciprocal = reference(x[i] * (1 / scales[ch]), 1f, zps[ch], -128, 127);
      if (viaReciprocal != want) {
        reciprocalWouldDiffer++;
      }
    }
    assertEquals(0, mismatches, "per-axis values differing from the reference");
    // the data does exercise the difference between dividing and multiplying by 1/scale
    assertNotEquals(0, reciprocalWouldDiffer);

    // per tensor, uint8 with zero point 128
    Op q = quantize(node("QuantizeLinear", true));
    for (float s : scales) {
      long[] y =
          values(q.run(new INDArray[] {xa, scalar(s), zp(DataType.UBYTE, 128)})[0]);
      for (int i = 0; i < x.length; i++) {
        assertEquals(reference(x[i], s, 128, 0, 255), y[i], "x = " + x[i] + ", scale = " + s);
      }
    }
  }

  @Test
  void dequantizesPerTensorAndPerAxis() {
    NodeProto.Builder b = node("DequantizeLinear", true);
    INDArray q = typed(DataType.UBYTE, 0, 3, 128, 255);
    INDArray y = dequantize(b).run(new INDArray[] {q, scalar(2f), zp(DataType.UBYTE, 128)})[0];
    assertEquals(DataType.FLOAT, y.dataType());
    assertArrayEquals(new float[] {-256f, -250f, 0f, 254f}, y.data().asFloat());

    NodeProto.Builder ba = node("DequantizeLinear", true).addAttribute(intAttr("axis", 1));
    INDArray q2 = typed(DataType.BYTE, -128, 127, 5, -5).reshape(1, 2, 2);
    INDArray y2 =
        dequantize(ba).run(new INDArray[] {q2, floats(0.5f, 0.1f), typed(DataType.BYTE, 0, -5)})[0];
    // (-128 - 0) * 0.5, (127 - 0) * 0.5, (5 + 5) * 0.1f, (-5 + 5) * 0.1f
    assertArrayEquals(new float[] {-64f, 63.5f, 10 * 0.1f, 0f}, y2.dup('c').data().asFloat());

    // int32 (biases): no zero point
    INDArray q3 = Nd4j.createFromArray(new int[] {-1000, 7});
    INDArray y3 = dequantize(node("DequantizeLinear", false)).run(new INDArray[] {q3, scalar(0.25f)})[0];
    assertArrayEquals(new float[] {-250f, 1.75f}, y3.data().asFloat());
  }

  @Test
  void refusesBlockedQuantizationAndOutOfScopeTypesNamingTheNode() {
    ModelException blocked =
        assertThrows(
            ModelException.class,
            () -> quantize(node("QuantizeLinear", true).addAttribute(intAttr("block_size", 2))));
    assertTrue(blocked.getMessage().contains("'q0'"), blocked.getMessage());
    assertTrue(blocked.getMessage().contains("block_size"), blocked.getMessage());

    ModelException dqBlocked =
        assertThrows(
            ModelException.class,
            () -> dequantize(node("DequantizeLinear", true).addAttribute(intAttr("block_size", 2))));
    assertTrue(dqBlocked.getMessage().contains("'q0'"), dqBlocked.getMessage());

    for (int code : new int[] {17, 19, 21, 22, 23}) { // float8 e4m3fn / e5m2, uint4, int4, float4
      ModelException e =
          assertThrows(
              ModelException.class,
              () -> quantize(node("QuantizeLinear", false).addAttribute(intAttr("output_dtype", code))));
      assertTrue(e.getMessage().contains("'q0'"), e.getMessage());
      assertTrue(e.getMessage().contains(dev.qdebug.onnx.ElemType.of(code).name()), e.getMessage());
    }

    // an int32 zero point is not a quantized type
    Op q = quantize(node("QuantizeLinear", true));
    ModelException e =
        assertThrows(
            ModelException.class,
            () -> q.run(new INDArray[] {floats(1f), scalar(1f), Nd4j.scalar(0)}));
    assertTrue(e.getMessage().contains("'q0'") && e.getMessage().contains("INT32"), e.getMessage());
  }
}
