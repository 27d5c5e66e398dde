package dev.qdebug.engine.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.qdebug.engine.Op;
import dev.qdebug.engine.OpRegistry;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.GraphProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import dev.qdebug.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.qdebug.onnx.proto.OnnxProtos.TypeProto;
import dev.qdebug.onnx.proto.OnnxProtos.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * QuantizeLinear followed by DequantizeLinear, bit for bit against ONNX Runtime with graph
 * optimizations off (it then runs Q/DQ literally): per tensor and per channel, for every
 * supported integer type, on data with many exact rounding ties and values far out of range.
 */
class QuantizeLinearOrtTest {
  private static final int C = 8;
  private static final int H = 12;
  private static final int W = 10;
  private static final long[] SHAPE = {1, C, H, W};

  private static ValueInfoProto valueInfo(String name, int type) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : SHAPE) {
      s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return ValueInfoProto.newBuilder()
        .setName(name)
        .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(type).setShape(s)))
        .build();
  }

  private static NodeProto node(String opType, String in, String out) {
    return NodeProto.newBuilder()
        .setOpType(opType)
        .setName(opType)
        .addInput(in)
        .addInput("s")
        .addInput("zp")
        .addOutput(out)
        .addAttribute(AttributeProto.newBuilder().setName("axis").setType(AttributeProto.AttributeType.INT).setI(1))
        .build();
  }

  @ParameterizedTest
  @CsvSource({
    "INT8, false", "INT8, true", "UINT8, false", "UINT8, true",
    "INT16, false", "INT16, true", "UINT16, false", "UINT16, true"
  })
  void matchesOnnxRuntimeBitForBit(String type, boolean perAxis) throws OrtException {
    DataType qt =
        switch (type) {
          case "INT8" -> DataType.BYTE;
          case "UINT8" -> DataType.UBYTE;
          case "INT16" -> DataType.SHORT;
          default -> DataType.UINT16;
        };
    boolean wide = qt == DataType.SHORT || qt == DataType.UINT16;
    Random r = new Random(type.hashCode() * 31L + (perAxis ? 1 : 0));
    int n = perAxis ? C : 1;
    float[] scales = new float[n];
    int[] zps = new int[n];
    for (int c = 0; c < n; c++) {
      scales[c] = (float) (0.001 + r.nextDouble() * 0.2);
      zps[c] =
          switch (qt) {
            case BYTE -> r.nextInt(41) - 20;
            case UBYTE -> 100 + r.nextInt(56);
            case SHORT -> r.nextInt(2001) - 1000;
            default -> 30000 + r.nextInt(1000);
          };
    }
    float[] x = new float[C * H * W];
    int range = wide ? 80000 : 600;
    for (int i = 0; i < x.length; i++) {
      float s = scales[perAxis ? i / (H * W) : 0];
      // one value in three is an exact tie (k + 0.5) * s; the range overshoots the type's
      x[i] =
          r.nextInt(3) == 0
              ? (r.nextInt(range) - range / 2 + 0.5f) * s
              : (float) (r.nextGaussian() * range / 6 * s);
    }
    INDArray xa = Nd4j.createFromArray(x).reshape(SHAPE);
    INDArray sa = perAxis ? Nd4j.createFromArray(scales) : Nd4j.scalar(scales[0]);
    INDArray za = (perAxis ? Nd4j.createFromArray(zps) : Nd4j.scalar(zps[0])).castTo(qt);

    NodeProto q = node("QuantizeLinear", "x", "y");
    NodeProto dq = node("DequantizeLinear", "y", "z");
    GraphProto g =
        GraphProto.newBuilder()
            .setName("qdq")
            .addNode(q)
            .addNode(dq)
            .addInitializer(Tensors.toProto("s", sa))
            .addInitializer(Tensors.toProto("zp", za))
            .addInput(valueInfo("x", 1))
            .addOutput(valueInfo("y", Tensors.elemType(qt).code()))
            .addOutput(valueInfo("z", 1))
            .build();
    ModelProto m =
        ModelProto.newBuilder()
            .setIrVersion(10)
            .setGraph(g)
            .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(21))
            .build();

    long[] ortQ = new long[x.length];
    float[] ortDq = new float[x.length];
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
      o.setIntraOpNumThreads(1);
      try (OrtSession session = env.createSession(m.toByteArray(), o);
          OnnxTensor xt = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), SHAPE);
          OrtSession.Result res = session.run(Map.of("x", xt))) {
        OnnxTensor yt = (OnnxTensor) res.get(0);
        if (wide) {
          ShortBuffer b = yt.getShortBuffer();
          for (int i = 0; i < x.length; i++) {
            ortQ[i] = qt == DataType.SHORT ? b.get(i) : b.get(i) & 0xffff;
          }
        } else {
          ByteBuffer b = yt.getByteBuffer();
          for (int i = 0; i < x.length; i++) {
            ortQ[i] = qt == DataType.BYTE ? b.get(i) : b.get(i) & 0xff;
          }
        }
        ((OnnxTensor) res.get(1)).getFloatBuffer().get(ortDq);
      }
    }

    Op myQ = OpRegistry.standard().create(OnnxNode.of(q), 21);
    Op myDq = OpRegistry.standard().create(OnnxNode.of(dq), 21);
    INDArray y = myQ.run(new INDArray[] {xa, sa, za})[0];
    INDArray z = myDq.run(new INDArray[] {y, sa, za})[0];
    assertEquals(qt, y.dataType());
    long[] gotQ = y.dup('c').data().asLong();
    float[] gotDq = z.dup('c').data().asFloat();
    int badQ = 0;
    int badDq = 0;
    for (int i = 0; i < x.length; i++) {
      badQ += gotQ[i] != ortQ[i] ? 1 : 0;
      badDq += Float.floatToIntBits(gotDq[i]) != Float.floatToIntBits(ortDq[i]) ? 1 : 0;
    }
    assertEquals(0, badQ, "quantized values differing from ONNX Runtime");
    assertEquals(0, badDq, "dequantized values differing from ONNX Runtime (bits)");
  }
}
