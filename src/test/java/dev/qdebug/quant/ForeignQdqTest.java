package dev.qdebug.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Ort;
import dev.qdebug.TestModels;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Tensors;
import dev.qdebug.metrics.Metric;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * QDQ models written by other tools load into the same numbers ONNX Runtime computes on the
 * original file. The files (src/test/resources/models/foreign, made by
 * scripts/make_foreign_qdq_models.py) are a CNN quantized with PyTorch's FX tooling and exported
 * by torch.onnx, and a CNN in the layout ONNX Runtime's quantize_static writes (integer weights
 * and int32 biases behind DequantizeLinear, one QuantizeLinear with two DequantizeLinear). Each
 * comes with its float model.
 *
 * <p>For each file: the calibration nodes are as many as the file's quantized tensors (counted
 * here from its Q/DQ nodes, weights and activations apart); the float graph has no Q/DQ and no
 * integer tensors left and has the float model's ops; every Q/DQ of the file is bit-exact with
 * our fake quantization when both quantize ONNX Runtime's numbers (teacher forced), and every
 * integer weight and bias folds to ONNX Runtime's DequantizeLinear output bit for bit; end to end
 * the outputs agree closely (cosine printed); with every node off the model is the float model
 * (1e-4); saving and reloading gives the same nodes and outputs.
 */
class ForeignQdqTest {
  @TempDir Path tmp;

  static final Set<ElemType> INTEGER_TYPES =
      Set.of(
          ElemType.INT8, ElemType.UINT8, ElemType.INT16, ElemType.UINT16, ElemType.INT32,
          ElemType.INT4, ElemType.UINT4);

  static Stream<Arguments> files() {
    return Stream.of(
        Arguments.of("torch_fx_qdq_op13.onnx", "torch_fx_float_op13.onnx"),
        Arguments.of("ort_style_qdq_op13.onnx", "ort_style_float_op13.onnx"));
  }

  static Path resource(String name) throws Exception {
    return Path.of(ForeignQdqTest.class.getResource("/models/foreign/" + name).toURI());
  }

  /** What the file's Q/DQ nodes say should load: quantized weights and activations. */
  record Expected(Set<String> weightSources, Set<String> activationSources, int int32Biases) {}

  /**
   * Counts from the file: a weight per constant that a QuantizeLinear reads and per non-int32
   * integer constant that a DequantizeLinear reads; an activation per distinct non-constant
   * tensor that a QuantizeLinear reads; int32 constants behind a DequantizeLinear are biases.
   */
  static Expected expected(OnnxModel m) {
    Map<String, TensorProto> constants = constants(m);
    Set<String> weights = new LinkedHashSet<>();
    Set<String> activations = new LinkedHashSet<>();
    int biases = 0;
    for (OnnxNode n : m.nodes()) {
      if (n.opType().equals("QuantizeLinear")) {
        (constants.containsKey(n.input(0)) ? weights : activations).add(n.input(0));
      } else if (n.opType().equals("DequantizeLinear") && constants.containsKey(n.input(0))) {
        if (ElemType.of(constants.get(n.input(0)).getDataType()) == ElemType.INT32) {
          biases++;
        } else {
          weights.add(n.input(0));
        }
      }
    }
    return new Expected(weights, activations, biases);
  }

  /** Initializers, Constant outputs, and Identity outputs of those (torch shares them so). */
  static Map<String, TensorProto> constants(OnnxModel m) {
    Map<String, TensorProto> c = new HashMap<>(m.initializers());
    boolean grew = true;
    while (grew) {
      grew = false;
      for (OnnxNode n : m.nodes()) {
        String out = n.outputs().get(0);
        if (c.containsKey(out)) {
          continue;
        }
        if (n.opType().equals("Constant") && n.attrTensor("value").isPresent()) {
          c.put(out, n.attrTensor("value").get());
          grew = true;
        } else if (n.opType().equals("Identity") && c.containsKey(n.input(0))) {
          c.put(out, c.get(n.input(0)));
          grew = true;
        }
      }
    }
    return c;
  }

  static Map<String, INDArray> randomBatch(OnnxModel model, int n, long seed) {
    var in = model.inputs().get(0);
    long[] shape = in.shape().clone();
    shape[0] = n;
    Nd4j.getRandom().setSeed(seed);
    return Map.of(in.name(), Nd4j.randn(shape).castTo(DataType.FLOAT));
  }

  static Map<String, Integer> opHistogram(OnnxModel m) {
    Map<String, Integer> h = new TreeMap<>();
    m.nodes().forEach(n -> h.merge(n.opType(), 1, Integer::sum));
    return h;
  }

  static int bitDiffs(INDArray x, INDArray y) {
    assertEquals(java.util.Arrays.toString(x.shape()), java.util.Arrays.toString(y.shape()));
    float[] a = x.dup('c').data().asFloat();
    float[] b = y.dup('c').data().asFloat();
    assertEquals(a.length, b.length);
    int diff = 0;
    for (int i = 0; i < a.length; i++) {
      diff += Float.floatToIntBits(a[i]) == Float.floatToIntBits(b[i]) ? 0 : 1;
    }
    return diff;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("files")
  void loadsLikeOrtComputes(String file, String floatFile) throws Exception {
    Path path = resource(file);
    OnnxModel original = OnnxModel.load(path);
    OnnxModel floatRef = OnnxModel.load(resource(floatFile));
    verify(file, original, () -> CalibratedModel.load(path), floatRef, randomBatch(original, 4, 11));
  }

  /**
   * Checks one QDQ model (see the class comment); {@code floatRef}, when given, is its float
   * model, which every node off must reproduce and whose ops the float graph must have.
   */
  void verify(
      String file,
      OnnxModel original,
      Supplier<CalibratedModel> loader,
      OnnxModel floatRef,
      Map<String, INDArray> batch) {
    ModelProto proto = original.proto();
    Map<String, TensorProto> constants = constants(original);
    Expected want = expected(original);
    String out = original.outputs().get(0).name();
    String in = original.inputs().get(0).name();

    try (CalibratedModel cal = loader.get()) {
      // ---- node counts, weights and activations apart
      long weights = cal.nodes().stream().filter(n -> n.kind() == TensorKind.WEIGHT).count();
      long activations = cal.nodes().stream().filter(n -> n.kind() == TensorKind.ACTIVATION).count();
      System.out.printf(
          "%s: %d weight + %d activation calibration nodes (file: %d weights, %d activations, %d int32 biases)%n",
          file, weights, activations, want.weightSources().size(), want.activationSources().size(),
          want.int32Biases());
      assertEquals(want.weightSources().size(), weights, "weight calibration nodes");
      assertEquals(want.activationSources().size(), activations, "activation calibration nodes");
      assertEquals(cal.nodes().size(), cal.enabled().size(), "every loaded node is switched on");

      // ---- the float graph: no Q/DQ, no integer tensors, the float model's ops
      OnnxModel fm = cal.floatModel();
      for (OnnxNode n : fm.nodes()) {
        assertFalse(
            n.opType().equals("QuantizeLinear") || n.opType().equals("DequantizeLinear"),
            "Q/DQ left in the float graph: " + n.describe());
        if (n.opType().equals("Constant") && n.attrTensor("value").isPresent()) {
          assertFalse(INTEGER_TYPES.contains(ElemType.of(n.attrTensor("value").get().getDataType())),
              "integer constant left: " + n.describe());
        }
      }
      for (TensorProto t : fm.initializers().values()) {
        assertFalse(INTEGER_TYPES.contains(ElemType.of(t.getDataType())),
            "integer initializer left in the float graph: " + t.getName());
      }
      if (floatRef != null) {
        assertEquals(opHistogram(floatRef), opHistogram(fm), "float graph ops vs the float model");
      }

      // ---- teacher forced, pair by pair: ORT's Q input -> our fake quant == ORT's DQ output
      List<String> taps = new ArrayList<>();
      for (OnnxNode n : original.nodes()) {
        if (n.opType().equals("QuantizeLinear") && !constants.containsKey(n.input(0))
            && !n.input(0).equals(in)) {
          taps.add(n.input(0));
        } else if (n.opType().equals("DequantizeLinear")) {
          taps.add(n.outputs().get(0));
        }
      }
      Map<String, INDArray> ort = Ort.run(Ort.withOutputs(proto, taps), batch, taps);
      int pairs = 0;
      int folded = 0;
      for (OnnxNode q : original.nodes()) {
        if (!q.opType().equals("QuantizeLinear")) {
          continue;
        }
        String x = q.input(0);
        List<String> dqOuts = new ArrayList<>();
        for (OnnxNode d : original.nodes()) {
          if (d.opType().equals("DequantizeLinear") && d.input(0).equals(q.outputs().get(0))) {
            dqOuts.add(d.outputs().get(0));
          }
        }
        assertFalse(dqOuts.isEmpty(), q.describe() + " has no DequantizeLinear");
        CalibrationNode c = nodeFor(cal, x, dqOuts);
        boolean constant = constants.containsKey(x);
        assertEquals(constant ? TensorKind.WEIGHT : TensorKind.ACTIVATION, c.kind(), c.name());
        INDArray qIn = constant ? Tensors.fromProto(constants.get(x))
            : x.equals(in) ? batch.get(in) : ort.get(x);
        INDArray ours = FakeQuant.apply(qIn, c.params());
        for (String y : dqOuts) {
          assertEquals(0, bitDiffs(ours, ort.get(y)), c.name() + " " + c.params() + " vs ORT's " + y);
          pairs++;
        }
      }
      for (OnnxNode d : original.nodes()) {
        if (!d.opType().equals("DequantizeLinear") || !constants.containsKey(d.input(0))) {
          continue;
        }
        // an integer constant behind DequantizeLinear folds to ORT's float value, bit for bit
        String y = d.outputs().get(0);
        TensorProto folded32 = fm.initializers().get(y);
        assertTrue(folded32 != null, "no float initializer for " + y);
        INDArray f = Tensors.fromProto(folded32);
        assertEquals(0, bitDiffs(f, ort.get(y)), "folded " + y + " vs ORT");
        boolean bias = ElemType.of(constants.get(d.input(0)).getDataType()) == ElemType.INT32;
        Optional<CalibrationNode> c = cal.nodeOfTensor(y);
        assertEquals(!bias, c.isPresent(), y + (bias ? ": a bias has no calibration node" : ": no node"));
        if (!bias) {
          assertEquals(TensorKind.WEIGHT, c.get().kind());
          assertEquals(0, bitDiffs(FakeQuant.apply(f, c.get().params()), ort.get(y)),
              "re-quantizing the folded weight " + y);
        }
        folded++;
      }
      System.out.printf("%s: %d Q/DQ pairs and %d folded constants bit-exact with ORT%n",
          file, pairs, folded);

      // ---- end to end: close to ORT on the original file
      INDArray ourOut = cal.run(batch).get(out);
      INDArray ortOut = Ort.run(proto, batch, List.of(out)).get(out);
      float[] a = ourOut.dup('c').data().asFloat();
      float[] b = ortOut.dup('c').data().asFloat();
      double cos = Metric.cosine(a, b);
      System.out.printf("%s: end-to-end output cosine vs ORT %.8f, max |diff| %.3g%n",
          file, cos, Metric.chebyshev(a, b));
      assertTrue(cos > 0.99, "end-to-end cosine " + cos);

      // ---- every node off: the float model
      INDArray off = cal.run(batch, List.of(), RunOptions.defaults()).get(out);
      double moved = Metric.chebyshev(off.dup('c').data().asFloat(), a);
      System.out.printf("%s: quantization moves the output by up to %.3g%n", file, moved);
      assertTrue(moved > 0, "switching every node off must change the output");
      if (floatRef != null) {
        INDArray ref = Ort.run(floatRef.proto(), batch, List.of(out)).get(out);
        double cheb = Metric.chebyshev(off.dup('c').data().asFloat(), ref.dup('c').data().asFloat());
        System.out.printf("%s: every node off vs ORT on the float model: max |diff| %.3g%n", file, cheb);
        assertTrue(cheb < 1e-4, "with every node off the model is the float model: " + cheb);
      }

      // ---- save and reload: same nodes, same outputs
      Path saved = tmp.resolve("resaved_" + file.replaceAll("[^A-Za-z0-9_.]", "_"));
      cal.save(saved);
      try (CalibratedModel back = CalibratedModel.load(saved)) {
        assertEquals(
            cal.nodes().stream().map(CalibrationNode::name).toList(),
            back.nodes().stream().map(CalibrationNode::name).toList());
        for (CalibrationNode n : cal.nodes()) {
          CalibrationNode m = back.node(n.name());
          assertEquals(n.tensor(), m.tensor());
          assertEquals(n.kind(), m.kind());
          assertEquals(n.params(), m.params(), n.name());
        }
        assertEquals(cal.enabled(), back.enabled());
        assertEquals(ourOut, back.run(batch).get(out), "reloaded model computes the same outputs");
        assertEquals(off, back.run(batch, List.of(), RunOptions.defaults()).get(out),
            "reloaded model with every node off");
      }
    }
  }

  /** The calibration node for a Q reading {@code x}: named by x, or by a DQ output (graph output). */
  static CalibrationNode nodeFor(CalibratedModel cal, String x, List<String> dqOuts) {
    Optional<CalibrationNode> c = cal.nodeOfTensor(x);
    for (String y : dqOuts) {
      if (c.isEmpty()) {
        c = cal.nodeOfTensor(y);
      }
    }
    return c.orElseThrow(() -> new AssertionError("no calibration node for " + x + " -> " + dqOuts));
  }

  // ------------------------------------------------------------ forms the two files do not have

  /**
   * Older and rarer forms other exporters write: opset 10 (no axis attribute, zero point input
   * left out, so uint8 with zero point 0), scale and zero point from Constant nodes and an
   * Identity of a constant, an int8 weight behind a per-tensor DequantizeLinear.
   */
  @Test
  void opset10FormsWithoutZeroPointOrAxis() {
    TestModels.Graph g = TestModels.graph().opset(10).input("X", -1, 8).output("Y", -1, 4);
    g.node("Constant", "xs_const", new String[0], new String[] {"xs"}, tensorAttr(scalar("xs", 0.05f)));
    g.node("QuantizeLinear", "xq", new String[] {"X", "xs"}, new String[] {"X_q"});
    g.node("DequantizeLinear", "xdq", new String[] {"X_q", "xs"}, new String[] {"X_dq"});
    g.raw(intTensor("W_q", TensorProto.DataType.INT8_VALUE, randomCodes(32, -127, 127, 3), 8, 4));
    g.raw(scalar("W_s", 0.02f));
    g.node("Constant", "wzp_const", new String[0], new String[] {"W_zp0"},
        tensorAttr(intTensor("W_zp0", TensorProto.DataType.INT8_VALUE, new long[] {0})));
    g.node("Identity", "wzp_share", new String[] {"W_zp0"}, new String[] {"W_zp"});
    g.node("DequantizeLinear", "wdq", new String[] {"W_q", "W_s", "W_zp"}, new String[] {"W"});
    g.node("MatMul", "mm", new String[] {"X_dq", "W"}, new String[] {"Y0"});
    g.raw(scalar("ys", 0.01f));
    g.raw(intTensor("yzp", TensorProto.DataType.UINT8_VALUE, new long[] {128}));
    g.node("QuantizeLinear", "yq", new String[] {"Y0", "ys", "yzp"}, new String[] {"Y_q"});
    g.node("DequantizeLinear", "ydq", new String[] {"Y_q", "ys", "yzp"}, new String[] {"Y"});
    OnnxModel m = g.model();
    verify("opset10", m, () -> CalibratedModel.of(m), null, randomBatch(m, 4, 12));
    try (CalibratedModel cal = CalibratedModel.of(m)) {
      assertEquals(QType.UINT8, cal.node("X").params().type(), "no zero point: uint8");
      assertEquals(0L, cal.node("X").params().zeroPoint()[0]);
    }
  }

  /**
   * Per-channel parameters on the last axis written as {@code axis = -1} (ONNX allows negative
   * axes from opset 13): a float weight behind a Q/DQ pair and an int8 weight behind a
   * DequantizeLinear, both [in, out] MatMul weights quantized per output column.
   */
  @Test
  void negativeAxisOnWeights() {
    TestModels.Graph g = TestModels.graph().opset(13).input("X", -1, 8).output("Z", -1, 3);
    float[] w = new float[32];
    java.util.Random r = new java.util.Random(7);
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) r.nextGaussian() * 0.3f;
    }
    g.initializer("W", w, 8, 4);
    g.raw(scalar("xs", 0.03f));
    g.raw(intTensor("xzp", TensorProto.DataType.INT8_VALUE, new long[] {0}));
    g.node("QuantizeLinear", "xq", new String[] {"X", "xs", "xzp"}, new String[] {"X_q"});
    g.node("DequantizeLinear", "xdq", new String[] {"X_q", "xs", "xzp"}, new String[] {"X_dq"});
    g.raw(TestModels.floatTensor("W_s", new float[] {0.004f, 0.005f, 0.006f, 0.007f}, 4));
    g.raw(intTensor("W_zp", TensorProto.DataType.INT8_VALUE, new long[4], 4));
    g.node("QuantizeLinear", "wq", new String[] {"W", "W_s", "W_zp"}, new String[] {"W_q"},
        TestModels.intAttr("axis", -1));
    g.node("DequantizeLinear", "wdq", new String[] {"W_q", "W_s", "W_zp"}, new String[] {"W_dq"},
        TestModels.intAttr("axis", -1));
    g.node("MatMul", "mm1", new String[] {"X_dq", "W_dq"}, new String[] {"H"});
    g.raw(intTensor("V_q", TensorProto.DataType.INT8_VALUE, randomCodes(12, -127, 127, 5), 4, 3));
    g.raw(TestModels.floatTensor("V_s", new float[] {0.01f, 0.02f, 0.03f}, 3));
    g.raw(intTensor("V_zp", TensorProto.DataType.INT8_VALUE, new long[] {0, 1, -1}, 3));
    g.node("DequantizeLinear", "vdq", new String[] {"V_q", "V_s", "V_zp"}, new String[] {"V"},
        TestModels.intAttr("axis", -1));
    g.node("MatMul", "mm2", new String[] {"H", "V"}, new String[] {"Z"});
    OnnxModel m = g.model();
    verify("negative-axis", m, () -> CalibratedModel.of(m), null, randomBatch(m, 4, 13));
    try (CalibratedModel cal = CalibratedModel.of(m)) {
      assertEquals(1, cal.node("W").params().axis(), "axis -1 of a rank-2 weight is axis 1");
      assertEquals(1, cal.node("V").params().axis());
    }
  }

  static TensorProto scalar(String name, float v) {
    return TestModels.floatTensor(name, new float[] {v});
  }

  static TensorProto intTensor(String name, int type, long[] values, long... dims) {
    int bytes = ElemType.of(type).bytes();
    java.nio.ByteBuffer b =
        java.nio.ByteBuffer.allocate(values.length * bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (long v : values) {
      if (bytes == 1) {
        b.put((byte) v);
      } else {
        b.putInt((int) v);
      }
    }
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type)
        .setRawData(com.google.protobuf.ByteString.copyFrom(b.array()));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }

  static long[] randomCodes(int n, int lo, int hi, long seed) {
    java.util.Random r = new java.util.Random(seed);
    long[] v = new long[n];
    for (int i = 0; i < n; i++) {
      v[i] = lo + r.nextInt(hi - lo + 1);
    }
    return v;
  }

  static AttributeProto tensorAttr(TensorProto t) {
    return AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR)
        .setT(t).build();
  }
}
