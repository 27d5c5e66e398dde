package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Ort;
import dev.qdebug.TestModels;
import dev.qdebug.engine.ops.ChannelsLast;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.quant.FakeQuant;
import dev.qdebug.quant.QParams;
import dev.qdebug.quant.QType;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Plans that keep convolution outputs channels-last ({@link ChannelsLast}): the same values as
 * ONNX Runtime and as the NCHW plan, for every kind of convolution (dense with a stride, depthwise
 * with and without bias, 1x1 reading NCHW and channels-last input, asymmetric pads, grouped,
 * dilated), element-wise ops, Concat with per-channel constants, SiLU, residual adds, batch normalization, PRelu, max pooling, a Reshape and a pooled head;
 * hooks see NCHW shapes; re-runs give the full run's values; fake quantization in place works on
 * the NHWC memory.
 */
class ChannelsLastTest {
  static final List<String> TAPS =
      List.of("stem", "maxpool", "dw1", "act1", "pw1", "bn", "prelu", "scaled", "silu", "dw2", "pw2", "res", "grouped",
          "dilated", "pool", "cat", "rows", "logits");

  /** A small mobile-style network with every convolution kind the channels-last path handles. */
  static ModelProto model() {
    Random r = new Random(11);
    int c = 8;
    return TestModels.graph()
        .opset(13)
        .input("x", -1, 3, -1, -1)
        .initializer("w0", FusionTest.rand(r, c * 3 * 9), c, 3, 3, 3)
        .initializer("b0", FusionTest.rand(r, c), c)
        .initializer("wd1", FusionTest.rand(r, c * 9), c, 1, 3, 3)
        .initializer("bd1", FusionTest.rand(r, c), c)
        .initializer("lo", new float[] {0f})
        .initializer("hi", new float[] {6f})
        .initializer("wp1", FusionTest.rand(r, 2 * c * c), 2 * c, c, 1, 1)
        .initializer("bp1", FusionTest.rand(r, 2 * c), 2 * c)
        .initializer("gamma", FusionTest.rand(r, 2 * c), 2 * c, 1, 1)
        .initializer("wd2", FusionTest.rand(r, 2 * c * 25), 2 * c, 1, 5, 5)
        .initializer("wp2", FusionTest.rand(r, 2 * c * 2 * c), 2 * c, 2 * c, 1, 1)
        .initializer("wg", FusionTest.rand(r, 2 * c * c * 9), 2 * c, c, 3, 3)
        .initializer("wdd", FusionTest.rand(r, 2 * c * 9), 2 * c, 1, 3, 3)
        .initializer("wfc", FusionTest.rand(r, 5 * 2 * c), 5, 2 * c)
        .node("Conv", "stem", new String[] {"x", "w0", "b0"}, new String[] {"stem"},
            TestModels.ints("pads", 1, 1, 1, 1), TestModels.ints("strides", 2, 2))
        .node("MaxPool", "maxpool", new String[] {"stem"}, new String[] {"maxpool"},
            TestModels.ints("kernel_shape", 3, 3), TestModels.ints("pads", 1, 1, 1, 1))
        .node("Conv", "dw1", new String[] {"maxpool", "wd1", "bd1"}, new String[] {"dw1"},
            TestModels.ints("pads", 1, 1, 1, 1), TestModels.intAttr("group", c))
        .node("Clip", "act1", new String[] {"dw1", "lo", "hi"}, new String[] {"act1"})
        .node("Conv", "pw1", new String[] {"act1", "wp1", "bp1"}, new String[] {"pw1"})
        .initializer("bnScale", FusionTest.rand(r, 2 * c), 2 * c)
        .initializer("bnBias", FusionTest.rand(r, 2 * c), 2 * c)
        .initializer("bnMean", FusionTest.rand(r, 2 * c), 2 * c)
        .initializer("bnVar", positive(r, 2 * c), 2 * c)
        .initializer("slope", FusionTest.rand(r, 2 * c), 2 * c, 1, 1)
        .node("BatchNormalization", "bn", new String[] {"pw1", "bnScale", "bnBias", "bnMean", "bnVar"},
            new String[] {"bn"})
        .node("PRelu", "prelu", new String[] {"bn", "slope"}, new String[] {"prelu"})
        .node("Mul", "scale", new String[] {"prelu", "gamma"}, new String[] {"scaled"})
        .node("Sigmoid", "sig", new String[] {"scaled"}, new String[] {"sig"})
        .node("Mul", "silu", new String[] {"scaled", "sig"}, new String[] {"silu"})
        // asymmetric pads, stride 2, no bias
        .node("Conv", "dw2", new String[] {"silu", "wd2"}, new String[] {"dw2"},
            TestModels.ints("pads", 1, 2, 2, 1), TestModels.ints("strides", 2, 2),
            TestModels.intAttr("group", 2 * c))
        .node("Conv", "pw2", new String[] {"dw2", "wp2"}, new String[] {"pw2"})
        .node("Add", "res", new String[] {"pw2", "dw2"}, new String[] {"res"})
        .node("Conv", "grouped", new String[] {"res", "wg"}, new String[] {"grouped"},
            TestModels.ints("pads", 1, 1, 1, 1), TestModels.intAttr("group", 2))
        .node("Conv", "dilated", new String[] {"grouped", "wdd"}, new String[] {"dilated"},
            TestModels.ints("pads", 2, 2, 2, 2), TestModels.ints("dilations", 2, 2),
            TestModels.intAttr("group", 2 * c))
        .node("Concat", "cat", new String[] {"dw2", "res"}, new String[] {"cat"},
            TestModels.intAttr("axis", 1))
        .raw(shape("rowShape", 0, 2 * c, -1))
        .node("Reshape", "rows", new String[] {"pw2", "rowShape"}, new String[] {"rows"})
        .node("GlobalAveragePool", "pool", new String[] {"dilated"}, new String[] {"pool"})
        .node("Flatten", "flat", new String[] {"pool"}, new String[] {"flat"})
        .node("Gemm", "fc", new String[] {"flat", "wfc"}, new String[] {"logits"},
            TestModels.intAttr("transB", 1))
        .output("logits", -1, 5)
        .output("cat", -1, 4 * c, -1, -1)
        .output("rows", -1, 2 * c, -1)
        .proto();
  }

  static dev.qdebug.onnx.proto.OnnxProtos.TensorProto shape(String name, long... v) {
    var t =
        dev.qdebug.onnx.proto.OnnxProtos.TensorProto.newBuilder()
            .setName(name)
            .setDataType(dev.qdebug.onnx.proto.OnnxProtos.TensorProto.DataType.INT64_VALUE)
            .addDims(v.length);
    for (long x : v) {
      t.addInt64Data(x);
    }
    return t.build();
  }

  static float[] positive(Random r, int n) {
    float[] v = FusionTest.rand(r, n);
    for (int i = 0; i < n; i++) {
      v[i] = Math.abs(v[i]) + 0.1f;
    }
    return v;
  }

  static Map<String, INDArray> feed() {
    Nd4j.getRandom().setSeed(5);
    return Map.of("x", Nd4j.randn(DataType.FLOAT, 3, 3, 30, 26));
  }

  static <T> T with(String mode, Supplier<T> body) {
    System.setProperty(Plan.CHANNELS_LAST_PROPERTY, mode);
    try {
      return body.get();
    } finally {
      System.clearProperty(Plan.CHANNELS_LAST_PROPERTY);
    }
  }

  static void assertClose(INDArray expected, INDArray actual, String what) {
    assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
    double scale = Math.max(1, expected.amaxNumber().doubleValue());
    double diff = actual.sub(expected).amaxNumber().doubleValue();
    assertTrue(diff <= 1e-4 * scale, what + ": max |diff| = " + diff);
  }

  @Test
  void channelsLastRunsGiveOrtsValuesAndTheNchwPlans() {
    ModelProto proto = model();
    OnnxModel m = OnnxModel.of(proto, "channels-last");
    Map<String, INDArray> in = feed();
    Map<String, INDArray> ort =
        Ort.run(Ort.withOutputs(proto, TAPS.subList(0, TAPS.size() - 3)), in, TAPS);
    Map<String, INDArray> nchw =
        with("false", () -> {
          try (Session s = Session.open(m)) {
            assertFalse(s.plan().channelsLast());
            return s.run(in, RunOptions.outputs(TAPS.toArray(String[]::new)));
          }
        });
    try (Session s = Session.open(m)) {
      assertTrue(s.plan().channelsLast());
      Map<String, INDArray> seen = new HashMap<>();
      Map<String, INDArray> hooked =
          s.run(in, RunOptions.hooked((name, v) -> {
            seen.put(name, Workspaces.keep(v));
            return v;
          }));
      for (String t : TAPS) {
        assertNotNull(seen.get(t), "the hook saw " + t);
        assertClose(ort.get(t), seen.get(t), "hooked " + t);
        assertClose(nchw.get(t), seen.get(t), "against the NCHW plan: " + t);
      }
      assertTrue(ChannelsLast.is(seen.get("pw1")), "1x1 output channels-last");
      assertTrue(ChannelsLast.is(seen.get("dw1")), "depthwise output channels-last");
      assertTrue(ChannelsLast.is(seen.get("maxpool")), "MaxPool keeps the layout");
      assertTrue(ChannelsLast.is(seen.get("silu")), "element-wise ops keep the layout");
      assertTrue(ChannelsLast.is(seen.get("cat")), "so does Concat along C");
      Map<String, INDArray> plain = s.run(in, RunOptions.outputs(TAPS.toArray(String[]::new)));
      for (String t : TAPS) {
        assertClose(ort.get(t), plain.get(t), "requested " + t);
        // what a run returns reads in order from its buffer (a Reshape of a channels-last
        // tensor is a strided view until then)
        assertArrayEquals(
            plain.get(t).dup('c').data().asFloat(), plain.get(t).data().asFloat(), "buffer order " + t);
      }
      assertTrue(ChannelsLast.is(seen.get("bn")), "BatchNormalization keeps the layout");
      assertTrue(ChannelsLast.is(seen.get("prelu")), "PRelu keeps the layout");
      assertEquals(plain.get("logits"), hooked.get("logits"), "hooked = plain, bit for bit");
      assertEquals(plain.get("logits"), s.run(in).get("logits"), "fused = requested, bit for bit");

      // a re-run from a changed tensor gives the full hooked run's values, bit for bit
      TensorHook half = TensorHook.only(Set.of("act1"), (name, v) -> v.mul(0.5));
      Map<String, INDArray> full = s.run(in, RunOptions.hooked(half));
      try (Snapshot snap = s.snapshot(in)) {
        Map<String, INDArray> again = s.rerun(snap, List.of("act1"), RunOptions.hooked(half));
        assertEquals(full.get("logits"), again.get("logits"));
      }
      assertFalse(full.get("logits").equals(plain.get("logits")), "the hook changed the result");
    }
  }

  @Test
  void theModeFollowsThePropertyAndRunsReturnCOrderedValues() {
    OnnxModel dense = OnnxModel.of(FusionTest.model(13, 4), "dense");
    Map<String, INDArray> in = FusionTest.feed(9);
    Map<String, INDArray> ort = Ort.run(FusionTest.model(13, 4), in, List.of("y", "z"));
    try (Session s = Session.open(dense)) {
      assertTrue(s.plan().channelsLast(), "a 2-D convolution: channels-last by default");
      Map<String, INDArray> out = s.run(in);
      for (String t : List.of("y", "z")) {
        assertClose(ort.get(t), out.get(t), "channels-last " + t);
        assertFalse(ChannelsLast.is(out.get(t)), "returned c-ordered: " + t);
        assertArrayEquals(
            out.get(t).dup('c').data().asFloat(), out.get(t).data().asFloat(), "buffer order " + t);
      }
    }
    Map<String, INDArray> nchw =
        with("false", () -> {
          try (Session s = Session.open(dense)) {
            assertFalse(s.plan().channelsLast());
            return s.run(in);
          }
        });
    assertClose(ort.get("z"), nchw.get("z"), "NCHW z");
    ModelProto relu =
        TestModels.oneNode(
            "Relu", 13, List.of(Nd4j.ones(DataType.FLOAT, 1, 2, 3, 3)), List.of(), List.of(1));
    try (Session s = Session.open(OnnxModel.of(relu, "relu"))) {
      assertFalse(s.plan().channelsLast(), "no convolution: nothing to keep channels-last");
    }
  }

  @Test
  void fakeQuantizationInPlaceWorksOnTheNhwcMemory() {
    Nd4j.getRandom().setSeed(9);
    INDArray nhwc = Nd4j.randn(DataType.FLOAT, 2, 5, 6, 7).muli(3);
    INDArray x = ChannelsLast.view(nhwc);
    assertTrue(ChannelsLast.is(x));
    INDArray expected = FakeQuant.apply(x.dup('c'), QParams.perTensor(0.05f, 0, QType.INT8));
    INDArray copy = FakeQuant.apply(x, QParams.perTensor(0.05f, 0, QType.INT8));
    assertEquals(expected, copy.dup('c'));
    INDArray inPlace = FakeQuant.applyInPlaceIfFinite(x, QParams.perTensor(0.05f, 0, QType.INT8));
    assertTrue(inPlace == x, "quantized over itself");
    assertEquals(expected, x.dup('c'));
    // per channel: along the logical channel axis, whatever the memory order
    INDArray y = ChannelsLast.view(Nd4j.randn(DataType.FLOAT, 2, 5, 6, 7));
    QParams pc =
        QParams.of(
            new float[] {-1, -2, -3, -1, -0.5f, -4, -1},
            new float[] {1, 2, 0.5f, 3, 2, 1, 5},
            1,
            QType.INT8,
            true);
    assertEquals(FakeQuant.apply(y.dup('c'), pc), FakeQuant.apply(y, pc).dup('c'));
  }
}
