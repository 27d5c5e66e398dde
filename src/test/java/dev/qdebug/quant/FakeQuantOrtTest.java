package dev.qdebug.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import dev.qdebug.Ort;
import dev.qdebug.TestModels;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link FakeQuant} against ONNX Runtime's QuantizeLinear → DequantizeLinear (optimizations off),
 * bit for bit, on values that include exact rounding ties and values far outside the range.
 */
class FakeQuantOrtTest {
  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of(QType.INT8, -1, false),
        Arguments.of(QType.UINT8, -1, false),
        Arguments.of(QType.INT8, 1, false),
        Arguments.of(QType.UINT8, 0, false),
        Arguments.of(QType.INT16, -1, false),
        Arguments.of(QType.INT16, 1, false),
        Arguments.of(QType.UINT16, -1, false),
        Arguments.of(QType.INT8, -1, true),
        Arguments.of(QType.INT8, 1, true),
        Arguments.of(QType.INT4, -1, false),
        Arguments.of(QType.INT4, 1, false),
        Arguments.of(QType.UINT4, -1, false),
        Arguments.of(QType.UINT4, 0, false));
  }

  @ParameterizedTest(name = "{0} axis {1} power-of-two scales {2}")
  @MethodSource("cases")
  void bitExactWithOnnxRuntime(QType type, int axis, boolean powerOfTwo) throws Exception {
    check(type, axis, powerOfTwo, new long[] {2, 5, 6, 7}, 0);
  }

  /**
   * Tensors large enough to be cut into pieces run on several threads (per tensor: pieces of one
   * tensor; per channel: blocks over 16 Ki values cut too), lengths no multiple of the piece.
   */
  @ParameterizedTest(name = "{0} axis {1} large")
  @MethodSource("largeCases")
  void bitExactWithOnnxRuntimeOnLargeTensors(QType type, int axis) throws Exception {
    check(type, axis, false, new long[] {3, 5, 61, 73}, 1);
    check(type, axis, false, new long[] {2, 3, 129, 131}, 2);
  }

  static Stream<Arguments> largeCases() {
    return Stream.of(
        Arguments.of(QType.INT8, -1),
        Arguments.of(QType.UINT8, -1),
        Arguments.of(QType.INT8, 1),
        Arguments.of(QType.INT16, 0));
  }

  /** Non-finite values: applyIfFinite says so (null); on finite tensors it is apply. */
  @org.junit.jupiter.api.Test
  void applyIfFiniteFindsNonFiniteValuesAnywhere() {
    QParams p = QParams.perTensor(0.05f, 3, QType.INT8);
    Random rnd = new Random(5);
    float[] x = new float[3 * 41 * 1000];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    INDArray finite = Nd4j.createFromArray(x).reshape(3, 41, 1000);
    assertEquals(FakeQuant.apply(finite, p), FakeQuant.applyIfFinite(finite, p));
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      for (int at : new int[] {0, 20_000, x.length - 1}) {
        float[] y = x.clone();
        y[at] = bad;
        INDArray t = Nd4j.createFromArray(y).reshape(3, 41, 1000);
        org.junit.jupiter.api.Assertions.assertNull(FakeQuant.applyIfFinite(t, p), bad + " at " + at);
        QParams perChannel =
            new QParams(new float[] {0.1f, 0.2f, 0.3f}, new long[] {0, 1, 2}, 0, QType.INT8);
        org.junit.jupiter.api.Assertions.assertNull(
            FakeQuant.applyIfFinite(t, perChannel), bad + " at " + at + ", per channel");
      }
    }
    INDArray one = Nd4j.scalar(Float.NaN);
    org.junit.jupiter.api.Assertions.assertNull(FakeQuant.applyIfFinite(one, p), "a NaN scalar");
  }

  private static void check(QType type, int axis, boolean powerOfTwo, long[] shape, int seed)
      throws Exception {
    Random rnd = new Random(42 + type.ordinal() * 7 + axis + 1000L * seed);
    int n = (int) (shape[0] * shape[1] * shape[2] * shape[3]);
    float[] x = new float[n];
    int channels = axis < 0 ? 1 : (int) shape[axis];
    float[] scale = new float[channels];
    long[] zp = new long[channels];
    for (int c = 0; c < channels; c++) {
      scale[c] = powerOfTwo ? (float) Math.pow(2, -3 - rnd.nextInt(4)) : 0.0137f * (1 + rnd.nextFloat());
      int spread = type.bits() == 4 ? 2 : 10; // a zero point inside the type's range
      zp[c] =
          type.signed()
              ? rnd.nextInt(2 * spread + 1) - spread
              : type.qmax() / 2 + rnd.nextInt(2 * spread + 1) - spread;
    }
    int inner = 1;
    if (axis >= 0) {
      for (int d = axis + 1; d < shape.length; d++) {
        inner *= (int) shape[d];
      }
    }
    for (int i = 0; i < n; i++) {
      int c = axis < 0 ? 0 : (i / inner) % channels;
      double range = (type.qmax() - type.qmin()) * scale[c];
      x[i] = switch (i % 4) {
        case 0 -> (float) ((rnd.nextDouble() - 0.5) * range); // inside
        case 1 -> (float) ((rnd.nextDouble() - 0.5) * range * 3); // often saturating
        case 2 -> (rnd.nextInt(200) - 100 + 0.5f) * scale[c]; // an exact tie when the scale allows
        default -> (float) (rnd.nextGaussian() * scale[c] * 4);
      };
    }
    QParams p = new QParams(scale, zp, axis, type);
    float[] ours = FakeQuant.apply(Nd4j.createFromArray(x).reshape(shape), p).dup('c').data().asFloat();
    float[] ort = runOrt(x, shape, p);
    int mismatches = 0;
    for (int i = 0; i < n; i++) {
      if (Float.floatToIntBits(ours[i]) != Float.floatToIntBits(ort[i])) {
        mismatches++;
      }
    }
    assertEquals(0, mismatches, "values differing from ONNX Runtime");
  }

  static float[] runOrt(float[] x, long[] shape, QParams p) throws Exception {
    int opset = p.type().bits() == 8 ? 13 : 21;
    TensorProto scale = TestModels.floatTensor("s", p.scale(), p.perChannel() ? new long[] {p.channels()} : new long[0]);
    ByteBuffer zb;
    if (p.type().bits() == 4) {
      // two 4-bit values per byte, the first in the low nibble
      zb = ByteBuffer.allocate((p.channels() + 1) / 2);
      for (int c = 0; c < p.channels(); c++) {
        int nibble = (int) p.zeroPoint()[c] & 0xF;
        int at = c / 2;
        zb.put(at, (byte) (zb.get(at) | (c % 2 == 0 ? nibble : nibble << 4)));
      }
    } else {
      int bytes = p.type().bits() / 8;
      zb = ByteBuffer.allocate(p.channels() * bytes).order(ByteOrder.LITTLE_ENDIAN);
      for (long z : p.zeroPoint()) {
        if (bytes == 1) {
          zb.put((byte) z);
        } else {
          zb.putShort((short) z);
        }
      }
    }
    TensorProto.Builder zpt =
        TensorProto.newBuilder()
            .setName("z")
            .setDataType(p.type().onnxType().code())
            .setRawData(ByteString.copyFrom(zb.array()));
    if (p.perChannel()) {
      zpt.addDims(p.channels());
    }
    var g =
        TestModels.graph()
            .opset(opset)
            .input("x", shape)
            .output("y", shape)
            .node("QuantizeLinear", "q", new String[] {"x", "s", "z"}, new String[] {"xq"},
                TestModels.intAttr("axis", Math.max(p.axis(), 0)))
            .node("DequantizeLinear", "dq", new String[] {"xq", "s", "z"}, new String[] {"y"},
                TestModels.intAttr("axis", Math.max(p.axis(), 0)));
    var proto = g.proto();
    proto =
        proto.toBuilder()
            .setGraph(proto.getGraph().toBuilder().addInitializer(scale).addInitializer(zpt))
            .build();
    INDArray in = Nd4j.createFromArray(x).reshape('c', shape);
    return Ort.run(proto, Map.of("x", in), List.of("y")).get("y").dup('c').data().asFloat();
  }

  @org.junit.jupiter.api.Test
  void handValues() {
    // scale 0.5: 0.25 -> 0.5 / 0.5 = 0.5 ties to 0; 0.75 -> 1.5 ties to 2 -> 1.0; saturation at 127.
    INDArray x =
        Nd4j.createFromArray(
            new float[] {0.25f, 0.75f, -0.25f, -0.75f, 100f, -100f, 1e30f, -Float.MAX_VALUE, -0f});
    float[] y = FakeQuant.apply(x, QParams.perTensor(0.5f, 0, QType.INT8)).toFloatVector();
    assertEquals(0f, y[0]);
    assertEquals(1f, y[1]);
    assertEquals(0f, y[2]); // q is an integer: no negative zero
    assertEquals(-1f, y[3]);
    assertEquals(63.5f, y[4]);
    assertEquals(-64f, y[5]);
    assertEquals(63.5f, y[6]); // far beyond every code: saturates
    assertEquals(-64f, y[7]);
    assertEquals(Float.floatToIntBits(0f), Float.floatToIntBits(y[8]), "negative zero in, 0 out");
  }
}
