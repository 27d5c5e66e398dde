package dev.qdebug.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.qdebug.Ort;
import dev.qdebug.TestModels;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import dev.qdebug.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A Horizon-style calibrated model (HzCalibration nodes with Horizon's attributes, an HzFilter at
 * the output), built here by hand, loads as calibration nodes under Horizon's names with its
 * switches, and runs like the equivalent standard QDQ model in ONNX Runtime.
 */
class HorizonFormatTest {
  static final float X_SCALE = 0.02f;
  static final float[] W_SCALES = {0.011f, 0.007f, 0.013f};
  static final float R_SCALE_INT8_REF = 0.04f; // int16 node: real scale = 0.04 * 127 / 32767

  static float[] weights() {
    Random r = new Random(3);
    float[] w = new float[3 * 2 * 3 * 3];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) r.nextGaussian() * 0.5f;
    }
    return w;
  }

  static AttributeProto s(String name, String v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
        .setS(ByteString.copyFromUtf8(v)).build();
  }

  static AttributeProto f(String name, float... v) {
    AttributeProto.Builder a = AttributeProto.newBuilder().setName(name)
        .setType(AttributeProto.AttributeType.FLOATS);
    for (float x : v) {
      a.addFloats(x);
    }
    return a.build();
  }

  static NodeProto hz(String name, String in, String out, AttributeProto... attrs) {
    NodeProto.Builder n = NodeProto.newBuilder().setOpType("HzCalibration").setDomain("horizon")
        .setName(name).addInput(in).addOutput(out);
    for (AttributeProto a : attrs) {
      n.addAttribute(a);
    }
    return n.build();
  }

  static ModelProto horizonModel() {
    ModelProto base = TestModels.graph()
        .input("x", -1, 2, 5, 5)
        .output("out", -1, 3, 5, 5)
        .initializer("w", weights(), 3, 2, 3, 3)
        .node("Conv", "conv", new String[] {"x_cal", "w_cal"}, new String[] {"y"},
            TestModels.ints("pads", 1, 1, 1, 1))
        .node("Relu", "relu", new String[] {"y"}, new String[] {"r"})
        .proto();
    var g = base.getGraph().toBuilder().clearNode();
    g.addNode(hz("x_HzCalibration", "x", "x_cal", s("tensor_type", "feature"), f("scales", X_SCALE),
        f("thresholds", X_SCALE * 127), s("qtype", "int8"), s("granularity", "per-tensor"), s("switch", "ON")));
    g.addNode(hz("w_HzCalibration", "w", "w_cal", s("tensor_type", "weight"), f("scales", W_SCALES),
        s("qtype", "int8"), s("granularity", "per-channel"), TestModels.intAttr("axis", 0), s("switch", "ON")));
    g.addNode(base.getGraph().getNode(0));
    g.addNode(base.getGraph().getNode(1));
    g.addNode(hz("r_HzCalibration", "r", "r_cal", s("tensor_type", "feature"), f("scales", R_SCALE_INT8_REF),
        s("qtype", "int16"), s("granularity", "per-tensor"), s("switch", "OFF")));
    g.addNode(NodeProto.newBuilder().setOpType("HzFilter").setDomain("horizon").setName("filter")
        .addInput("r_cal").addOutput("out"));
    return base.toBuilder().setGraph(g)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("horizon").setVersion(1)).build();
  }

  /** The same computation written with standard QuantizeLinear/DequantizeLinear, by hand. */
  static ModelProto equivalentQdq(boolean withInt16) {
    var b = TestModels.graph().opset(21)
        .input("x", -1, 2, 5, 5)
        .output("out", -1, 3, 5, 5)
        .initializer("w", weights(), 3, 2, 3, 3)
        .initializer("xs", new float[] {X_SCALE})
        .initializer("ws", W_SCALES, 3)
        .initializer("rs", new float[] {R_SCALE_INT8_REF * 127f / 32767f})
        .node("QuantizeLinear", "qx", new String[] {"x", "xs", "x0"}, new String[] {"xq"})
        .node("DequantizeLinear", "dqx", new String[] {"xq", "xs", "x0"}, new String[] {"xd"})
        .node("QuantizeLinear", "qw", new String[] {"w", "ws", "w0"}, new String[] {"wq"}, TestModels.intAttr("axis", 0))
        .node("DequantizeLinear", "dqw", new String[] {"wq", "ws", "w0"}, new String[] {"wd"}, TestModels.intAttr("axis", 0))
        .node("Conv", "conv", new String[] {"xd", "wd"}, new String[] {"y"}, TestModels.ints("pads", 1, 1, 1, 1));
    if (withInt16) {
      b.node("Relu", "relu", new String[] {"y"}, new String[] {"r"})
          .node("QuantizeLinear", "qr", new String[] {"r", "rs", "r0"}, new String[] {"rq"})
          .node("DequantizeLinear", "dqr", new String[] {"rq", "rs", "r0"}, new String[] {"out"});
    } else {
      b.node("Relu", "relu", new String[] {"y"}, new String[] {"out"});
    }
    ModelProto p = b.proto();
    var g = p.getGraph().toBuilder()
        .addInitializer(zero("x0", TensorProto.DataType.INT8_VALUE, 1, false))
        .addInitializer(zero("w0", TensorProto.DataType.INT8_VALUE, 3, true))
        .addInitializer(zero("r0", TensorProto.DataType.INT16_VALUE, 1, false));
    return p.toBuilder().setGraph(g).build();
  }

  static TensorProto zero(String name, int type, int n, boolean vector) {
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type)
        .setRawData(ByteString.copyFrom(new byte[n * (type == TensorProto.DataType.INT16_VALUE ? 2 : 1)]));
    if (vector) {
      t.addDims(n);
    }
    return t.build();
  }

  @Test
  void loadsHorizonNodesWithNamesSwitchesAndParameters() {
    try (CalibratedModel m = CalibratedModel.of(OnnxModel.of(horizonModel(), "hz.onnx"))) {
      assertEquals(
          List.of("x_HzCalibration", "w_HzCalibration", "r_HzCalibration"),
          m.nodes().stream().map(CalibrationNode::name).toList());
      assertEquals(Set.of("x_HzCalibration", "w_HzCalibration"), m.enabled());
      CalibrationNode w = m.node("w_HzCalibration");
      assertEquals(TensorKind.WEIGHT, w.kind());
      assertEquals(0, w.params().axis());
      CalibrationNode r = m.node("r_HzCalibration");
      assertEquals(QType.INT16, r.params().type());
      assertEquals(R_SCALE_INT8_REF * 127f / 32767f, r.params().scale()[0], 1e-12);
      assertEquals("out", r.tensor(), "the HzFilter's graph output keeps its name");
      assertEquals(
          List.of("x_HzCalibration", "w_HzCalibration"),
          m.calibrationsOf("conv").stream().map(CalibrationNode::name).toList());
      assertTrue(m.floatModel().nodes().stream().noneMatch(n -> n.opType().startsWith("Hz")));

      Nd4j.getRandom().setSeed(9);
      INDArray x = Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 2, 5, 5);
      Map<String, INDArray> in = Map.of("x", x);
      INDArray ours = m.run(in).get("out");
      INDArray ort = Ort.run(equivalentQdq(false), in, List.of("out")).get("out");
      assertTrue(ours.equalsWithEps(ort, 1e-5), "switches as stored (int16 node OFF)");

      m.enableAll();
      INDArray all = m.run(in).get("out");
      INDArray ortAll = Ort.run(equivalentQdq(true), in, List.of("out")).get("out");
      assertTrue(all.equalsWithEps(ortAll, 1e-5), "every node ON, int16 scale int8-referenced");
    }
  }
}
