package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Ort;
import dev.qdebug.TestModels;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Conv + Relu / Clip fusion in the plan: fused runs give ONNX Runtime's values and exactly the
 * unfused plan's, and whatever can see the tensor between the two (a hook, a request for it)
 * gets the convolution's output before the activation. Run at a small size (clamped by the Java
 * loop) and a large one (clamped by ND4J), for Clip from inputs (opset 13) and attributes (9).
 */
class FusionTest {
  static final String[] FUSED_AWAY = {"c1", "c2"};

  /**
   * x -> Conv -> c1 -> Relu -> r1 -> Conv -> c2 -> Clip(0, 6) -> r2 -> Conv -> c3 -> Relu -> y,
   * and z = c3 + y: c3 has two readers, so only the first two pairs fuse.
   */
  static ModelProto model(int opset, int channels) {
    Random r = new Random(7);
    TestModels.Graph g =
        TestModels.graph()
            .opset(opset)
            .input("x", -1, 3, -1, -1)
            .initializer("w1", rand(r, channels * 3 * 9), channels, 3, 3, 3)
            .initializer("b1", rand(r, channels), channels)
            .initializer("w2", rand(r, channels * channels * 9), channels, channels, 3, 3)
            .initializer("w3", rand(r, 2 * channels), 2, channels, 1, 1)
            .node("Conv", "conv1", new String[] {"x", "w1", "b1"}, new String[] {"c1"},
                TestModels.ints("pads", 1, 1, 1, 1))
            .node("Relu", "relu1", new String[] {"c1"}, new String[] {"r1"})
            .node("Conv", "conv2", new String[] {"r1", "w2"}, new String[] {"c2"},
                TestModels.ints("pads", 1, 1, 1, 1), TestModels.ints("strides", 2, 2));
    if (opset >= 11) {
      g.initializer("lo", new float[] {0f})
          .initializer("hi", new float[] {6f})
          .node("Clip", "clip2", new String[] {"c2", "lo", "hi"}, new String[] {"r2"});
    } else {
      g.node("Clip", "clip2", new String[] {"c2"}, new String[] {"r2"},
          TestModels.floatAttr("min", 0f), TestModels.floatAttr("max", 6f));
    }
    return g.node("Conv", "conv3", new String[] {"r2", "w3"}, new String[] {"c3"})
        .node("Relu", "relu3", new String[] {"c3"}, new String[] {"y"})
        .node("Add", "add", new String[] {"c3", "y"}, new String[] {"z"})
        .output("y", -1, 2, -1, -1)
        .output("z", -1, 2, -1, -1)
        .proto();
  }

  static float[] rand(Random r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (r.nextGaussian() * 0.8);
    }
    return v;
  }

  static Map<String, INDArray> feed(int size) {
    Nd4j.getRandom().setSeed(3);
    return Map.of("x", Nd4j.randn(DataType.FLOAT, 2, 3, size, size).muli(2));
  }

  static <T> T unfused(Supplier<T> body) {
    System.setProperty(Plan.FUSE_PROPERTY, "false");
    try {
      return body.get();
    } finally {
      System.clearProperty(Plan.FUSE_PROPERTY);
    }
  }

  static void assertClose(INDArray ort, INDArray ours, String what) {
    double scale = Math.max(1, ort.amaxNumber().doubleValue());
    double diff = ours.sub(ort).amaxNumber().doubleValue();
    assertTrue(diff <= 1e-4 * scale, what + ": max |ours - ORT| = " + diff);
  }

  /** 8x8: outputs of 2 x 16 x 8 x 8 (Java loop); 64x64 with 32 channels: ND4J's ops. */
  @ParameterizedTest
  @ValueSource(strings = {"13:8:16", "13:64:32", "9:8:16", "9:64:32"})
  void fusedRunsMatchOrtAndTheUnfusedPlan(String setting) {
    String[] p = setting.split(":");
    int opset = Integer.parseInt(p[0]);
    int size = Integer.parseInt(p[1]);
    int channels = Integer.parseInt(p[2]);
    ModelProto proto = model(opset, channels);
    OnnxModel m = OnnxModel.of(proto, "fusion-op" + opset);
    Map<String, INDArray> in = feed(size);
    List<String> taps = List.of("c1", "r1", "c2", "r2", "c3", "y", "z");
    Map<String, INDArray> ort = Ort.run(Ort.withOutputs(proto, List.of("c1", "r1", "c2", "r2", "c3")), in, taps);

    Map<String, INDArray> plain;
    Map<String, INDArray> asWritten;
    try (Session s = Session.open(m)) {
      assertEquals(2, s.plan().fusedSteps(), "conv1+relu1 and conv2+clip2 fuse, conv3 does not");
      plain = s.run(in);
      s.run(in); // steady state (workspace reused) gives the same
      assertEquals(plain.get("z"), s.run(in).get("z"));

      // a hook sees (and here keeps) the tensors between the fused ops, before the activation
      Map<String, INDArray> seen = new HashMap<>();
      Map<String, INDArray> hooked =
          s.run(
              in,
              RunOptions.hooked(
                  (name, v) -> {
                    seen.put(name, Workspaces.keep(v));
                    return v;
                  }));
      for (String t : FUSED_AWAY) {
        assertTrue(seen.containsKey(t), "the hook saw " + t);
        assertTrue(seen.get(t).minNumber().doubleValue() < 0, t + " is the value before the activation");
        assertClose(ort.get(t), seen.get(t), "hooked " + t);
      }
      assertEquals(plain.get("y"), hooked.get("y"));
      assertEquals(plain.get("z"), hooked.get("z"));

      // a hook declaring the tensors it touches keeps the fused steps that skip none of them;
      // it is called for those tensors only, and replacing one changes what follows as unfused
      TensorHook half = (name, v) -> v.mul(0.5);
      TensorHook onR1 = TensorHook.only(java.util.Set.of("x", "r1"), half);
      assertEquals(2, s.plan().fusedStepsUsed(onR1, List.of()), "Conv + clamp: exact, fused when hooked");
      TensorHook onC1 = TensorHook.only(java.util.Set.of("c1"), half);
      assertEquals(1, s.plan().fusedStepsUsed(onC1, List.of()), "c1 touched: conv1 + relu1 apart");
      assertEquals(0, s.plan().fusedStepsUsed(TensorHook.NONE, List.of("c1", "c2")));
      assertEquals(2, s.plan().fusedStepsUsed(TensorHook.NONE, List.of()));
      assertEquals(0, s.plan().fusedStepsUsed((name, v) -> v, List.of()), "undeclared: every tensor");
      java.util.List<String> called = new java.util.ArrayList<>();
      TensorHook logged = TensorHook.only(java.util.Set.of("x", "r1"), (name, v) -> {
        called.add(name);
        return half.onTensor(name, v);
      });
      Map<String, INDArray> selective = s.run(in, RunOptions.hooked(logged));
      assertEquals(List.of("x", "r1"), called, "called for the declared tensors only");
      Map<String, INDArray> selectiveC1 = s.run(in, RunOptions.hooked(onC1));
      Map<String, INDArray>[] unfusedRefs =
          unfused(() -> {
            try (Session u = Session.open(m)) {
              @SuppressWarnings("unchecked")
              Map<String, INDArray>[] r = new Map[] {u.run(in, RunOptions.hooked(onR1)),
                  u.run(in, RunOptions.hooked(onC1)), u.run(in, RunOptions.hooked(half))};
              return r;
            }
          });
      assertEquals(unfusedRefs[0].get("z"), selective.get("z"));
      assertEquals(unfusedRefs[0].get("y"), selective.get("y"));
      assertEquals(unfusedRefs[1].get("z"), selectiveC1.get("z"));
      // a declared hook and its andThen with NONE or an undeclared hook
      assertEquals(2, s.plan().fusedStepsUsed(onR1.andThen(TensorHook.NONE), List.of()));
      assertEquals(2, s.plan().fusedStepsUsed(TensorHook.NONE.andThen(TensorHook.NONE), List.of()));
      assertEquals(1, s.plan().fusedStepsUsed(onR1, List.of("c2")), "c2 requested: that pair apart");
      assertTrue(!unfusedRefs[2].get("z").equals(unfusedRefs[0].get("z")), "the hooks differ");

      // requested without a hook: the pair runs unfused and the tensor is the conv's output
      Map<String, INDArray> asked = s.run(in, RunOptions.outputs("c1", "r2", "z"));
      assertClose(ort.get("c1"), asked.get("c1"), "requested c1");
      assertClose(ort.get("r2"), asked.get("r2"), "requested r2");
      assertEquals(plain.get("z"), asked.get("z"));

      // a hook that replaces the conv output: the activation applies to the replacement
      TensorHook negate = (name, v) -> name.equals("c1") ? v.neg() : v;
      asWritten = s.run(in, RunOptions.hooked(negate));
      Map<String, INDArray> reference =
          unfused(() -> {
            try (Session u = Session.open(m)) {
              assertEquals(0, u.plan().fusedSteps());
              return u.run(in, RunOptions.hooked(negate));
            }
          });
      assertEquals(reference.get("z"), asWritten.get("z"));
    }
    for (String t : List.of("y", "z")) {
      assertClose(ort.get(t), plain.get(t), "fused " + t);
    }
    Map<String, INDArray> reference =
        unfused(() -> {
          try (Session u = Session.open(m)) {
            return u.run(in);
          }
        });
    // the same computations in the same order: bit for bit
    assertEquals(reference.get("y"), plain.get("y"));
    assertEquals(reference.get("z"), plain.get("z"));
  }

  /** A hook that halves {@code tensors}, declares them, and logs every call it gets. */
  static TensorHook halving(java.util.Set<String> tensors, List<String> calls) {
    return new TensorHook() {
      @Override
      public INDArray onTensor(String tensor, INDArray value) {
        calls.add(tensor);
        return tensors.contains(tensor) ? value.mul(0.5) : value;
      }

      @Override
      public boolean touches(String tensor) {
        return tensors.contains(tensor);
      }
    };
  }

  /**
   * A re-run downstream of a change uses the fused Conv + clamp steps that skip no tensor it
   * changes, touches or returns, and gives what a full hooked run and the unfused plan give, bit
   * for bit; a hook touching the Clip's bound keeps that pair apart.
   */
  @ParameterizedTest
  @ValueSource(strings = {"13:8:16", "13:64:32", "9:64:32"})
  void reRunsUseTheExactFusedSteps(String setting) {
    String[] p = setting.split(":");
    int opset = Integer.parseInt(p[0]);
    ModelProto proto = model(opset, Integer.parseInt(p[2]));
    OnnxModel m = OnnxModel.of(proto, "fusion-rerun" + opset);
    Map<String, INDArray> in = feed(Integer.parseInt(p[1]));
    java.util.Set<String> onX = java.util.Set.of("x");
    java.util.Set<String> onR1 = java.util.Set.of("r1");
    Supplier<Map<String, Map<String, INDArray>>> all =
        () -> {
          Map<String, Map<String, INDArray>> r = new HashMap<>();
          try (Session s = Session.open(m)) {
            Snapshot base = s.snapshot(in);
            List<String> calls = new java.util.ArrayList<>();
            r.put("x", s.rerun(base, onX, RunOptions.hooked(halving(onX, calls))));
            r.put("r1", s.rerun(base, onR1, RunOptions.hooked(halving(onR1, calls))));
            r.put("full", s.run(in, RunOptions.hooked(halving(onR1, new java.util.ArrayList<>()))));
            r.put("c2", s.rerun(base, onR1, RunOptions.hooked(halving(onR1, calls))
                .withOutputs(List.of("c2", "z"))));
            assertEquals(List.of("x", "r1", "r1"), calls, "called for the declared tensors only");
          }
          return r;
        };
    Map<String, Map<String, INDArray>> fused = all.get();
    Map<String, Map<String, INDArray>> reference = unfused(all);
    for (String run : List.of("x", "r1", "full")) {
      for (String t : List.of("y", "z")) {
        assertEquals(reference.get(run).get(t), fused.get(run).get(t), run + ": " + t);
      }
    }
    assertEquals(fused.get("full").get("z"), fused.get("r1").get("z"), "re-run = full hooked run");
    assertEquals(reference.get("c2").get("c2"), fused.get("c2").get("c2"), "c2 requested");
    assertTrue(fused.get("c2").get("c2").minNumber().doubleValue() < 0, "c2 before the clip");
    assertEquals(reference.get("c2").get("z"), fused.get("c2").get("z"));

    try (Session s = Session.open(m)) {
      List<String> none = List.of();
      assertEquals(2, s.plan().fusedStepsUsed(halving(onR1, new java.util.ArrayList<>()), none));
      if (opset >= 11) {
        TensorHook onHi = halving(java.util.Set.of("hi"), new java.util.ArrayList<>());
        assertEquals(1, s.plan().fusedStepsUsed(onHi, none), "a bound touched: clip2 apart");
        Map<String, INDArray> halvedBound = s.run(in, RunOptions.hooked(onHi));
        Map<String, INDArray> ref =
            unfused(() -> {
              try (Session u = Session.open(m)) {
                return u.run(in, RunOptions.hooked(onHi));
              }
            });
        assertEquals(ref.get("z"), halvedBound.get("z"), "the halved bound applies");
      }
      System.setProperty(Plan.HOOKED_FUSE_PROPERTY, "false");
      try (Session off = Session.open(m)) {
        assertEquals(0, off.plan().fusedStepsUsed(halving(onR1, new java.util.ArrayList<>()), none));
        assertEquals(2, off.plan().fusedStepsUsed(TensorHook.NONE, none));
      } finally {
        System.clearProperty(Plan.HOOKED_FUSE_PROPERTY);
      }
    }
  }

  /** x -> Conv -> c -> Mul(c, Sigmoid(c)) -> y -> Conv -> d -> Mul(Sigmoid(d), d) -> z. */
  static ModelProto siluModel(int channels) {
    Random r = new Random(11);
    return TestModels.graph()
        .input("x", -1, 3, -1, -1)
        .initializer("w1", rand(r, channels * 3 * 9), channels, 3, 3, 3)
        .initializer("b1", rand(r, channels), channels)
        .initializer("w2", rand(r, channels * channels), channels, channels, 1, 1)
        .node("Conv", "conv1", new String[] {"x", "w1", "b1"}, new String[] {"c"},
            TestModels.ints("pads", 1, 1, 1, 1))
        .node("Sigmoid", "sig1", new String[] {"c"}, new String[] {"s"})
        .node("Mul", "mul1", new String[] {"c", "s"}, new String[] {"y"})
        .node("Conv", "conv2", new String[] {"y", "w2"}, new String[] {"d"})
        .node("Sigmoid", "sig2", new String[] {"d"}, new String[] {"t"})
        .node("Mul", "mul2", new String[] {"t", "d"}, new String[] {"z"})
        .output("z", -1, channels, -1, -1)
        .proto();
  }

  @ParameterizedTest
  @ValueSource(ints = {8, 64})
  void convSiluFusesAndMatchesOrt(int size) {
    ModelProto proto = siluModel(16);
    OnnxModel m = OnnxModel.of(proto, "fusion-silu");
    Map<String, INDArray> in = feed(size);
    Map<String, INDArray> ort =
        Ort.run(Ort.withOutputs(proto, List.of("c", "s", "y")), in, List.of("c", "s", "y", "z"));
    Map<String, INDArray> reference =
        unfused(() -> {
          try (Session u = Session.open(m)) {
            return u.run(in);
          }
        });
    try (Session s = Session.open(m)) {
      assertEquals(2, s.plan().fusedSteps());
      INDArray z = s.run(in).get("z");
      assertClose(ort.get("z"), z, "fused z");
      double scale = Math.max(1, reference.get("z").amaxNumber().doubleValue());
      assertTrue(z.sub(reference.get("z")).amaxNumber().doubleValue() <= 1e-6 * scale, "fused = unfused");

      Map<String, INDArray> seen = new HashMap<>();
      Map<String, INDArray> hooked =
          s.run(
              in,
              RunOptions.hooked(
                  (name, v) -> {
                    seen.put(name, Workspaces.keep(v));
                    return v;
                  }));
      assertTrue(seen.get("c").minNumber().doubleValue() < 0, "c is the conv output");
      for (String t : List.of("c", "s", "y")) {
        assertClose(ort.get(t), seen.get(t), "hooked " + t);
      }
      assertEquals(reference.get("z"), hooked.get("z"), "hooked runs are the unfused plan");
      // SiLU fused is not bit for bit the two ops: a hooked run (fake quantization) keeps them
      // apart even where it touches none of the skipped tensors
      TensorHook onY = TensorHook.only(java.util.Set.of("y"), (name, v) -> v.mul(0.5));
      assertEquals(0, s.plan().fusedStepsUsed(onY, List.of()));
      Map<String, INDArray> halfRef =
          unfused(() -> {
            try (Session u = Session.open(m)) {
              return u.run(in, RunOptions.hooked(onY));
            }
          });
      assertEquals(halfRef.get("z"), s.run(in, RunOptions.hooked(onY)).get("z"));
      Map<String, INDArray> asked = s.run(in, RunOptions.outputs("s", "z"));
      assertClose(ort.get("s"), asked.get("s"), "requested s");
      assertClose(ort.get("z"), asked.get("z"), "z with s requested");
    }
  }

  /** PyTorch's LayerNorm over the last axis as exported op by op, then a residual Add. */
  static ModelProto layerNormModel(int features) {
    Random r = new Random(5);
    return TestModels.graph()
        .input("x", -1, -1, features)
        .initializer("two", new float[] {2f})
        .initializer("eps", new float[] {1e-5f})
        .initializer("gamma", rand(r, features), features)
        .initializer("beta", rand(r, features), features)
        .node("ReduceMean", "m", new String[] {"x"}, new String[] {"mean"}, TestModels.ints("axes", -1))
        .node("Sub", "sub", new String[] {"x", "mean"}, new String[] {"d"})
        .node("Pow", "pow", new String[] {"d", "two"}, new String[] {"p"})
        .node("ReduceMean", "v", new String[] {"p"}, new String[] {"var"}, TestModels.ints("axes", -1))
        .node("Add", "addeps", new String[] {"var", "eps"}, new String[] {"ve"})
        .node("Sqrt", "sqrt", new String[] {"ve"}, new String[] {"sd"})
        .node("Div", "div", new String[] {"d", "sd"}, new String[] {"n"})
        .node("Mul", "scale", new String[] {"n", "gamma"}, new String[] {"g"})
        .node("Add", "shift", new String[] {"g", "beta"}, new String[] {"y"})
        .node("Add", "residual", new String[] {"x", "y"}, new String[] {"z"})
        .output("z", -1, -1, features)
        .proto();
  }

  /**
   * The fused layer norm takes a view (a transposed tensor) as it takes a dense array, small (the
   * Java kernel) and large (oneDNN), never the exported ops one by one: the fallback here fails.
   */
  @ParameterizedTest
  @ValueSource(ints = {16, 1024})
  void fusedLayerNormTakesViews(int tokens) {
    Nd4j.getRandom().setSeed(21);
    int f = 48;
    INDArray gamma = Nd4j.randn(DataType.FLOAT, f);
    INDArray beta = Nd4j.randn(DataType.FLOAT, f);
    dev.qdebug.engine.Op op =
        dev.qdebug.engine.ops.Fusion.layerNorm(
            1e-5, gamma, beta,
            in -> {
              throw new AssertionError("ran the exported ops one by one");
            });
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, f, tokens).muli(3).permute(0, 2, 1); // [2, tokens, f]
    INDArray y = op.run(new INDArray[] {x})[0];
    INDArray d = x.dup('c').reshape(2L * tokens, f);
    INDArray mean = d.mean(true, 1);
    d = d.subColumnVector(mean);
    INDArray inv = org.nd4j.linalg.ops.transforms.Transforms.pow(d.mul(d).mean(true, 1).addi(1e-5), -0.5, false);
    INDArray want = d.mulColumnVector(inv).mulRowVector(gamma).addRowVector(beta).reshape(2, tokens, f);
    assertTrue(want.sub(y).amaxNumber().doubleValue() < 1e-4, "layer norm of the view");
  }

  /** 2 x 16 x 48 runs the Java kernel, 2 x 1024 x 48 oneDNN's layer normalization. */
  @ParameterizedTest
  @ValueSource(ints = {16, 1024})
  void decomposedLayerNormFusesAndMatchesOrt(int tokens) {
    ModelProto proto = layerNormModel(48);
    OnnxModel m = OnnxModel.of(proto, "fusion-layernorm");
    Nd4j.getRandom().setSeed(9);
    Map<String, INDArray> in = Map.of("x", Nd4j.randn(DataType.FLOAT, 2, tokens, 48).muli(3).addi(1));
    Map<String, INDArray> ort = Ort.run(Ort.withOutputs(proto, List.of("d", "y")), in, List.of("d", "y", "z"));
    Map<String, INDArray> reference =
        unfused(() -> {
          try (Session u = Session.open(m)) {
            return u.run(in);
          }
        });
    try (Session s = Session.open(m)) {
      assertEquals(1, s.plan().fusedSteps());
      INDArray z = s.run(in).get("z");
      assertClose(ort.get("z"), z, "fused z");
      double scale = Math.max(1, reference.get("z").amaxNumber().doubleValue());
      assertTrue(z.sub(reference.get("z")).amaxNumber().doubleValue() <= 1e-5 * scale, "fused ~ unfused");
      Map<String, INDArray> seen = new HashMap<>();
      Map<String, INDArray> hooked =
          s.run(in, RunOptions.hooked((name, v) -> {
            seen.put(name, Workspaces.keep(v));
            return v;
          }));
      assertClose(ort.get("d"), seen.get("d"), "hooked d");
      assertEquals(reference.get("z"), hooked.get("z"), "hooked runs are the unfused plan");
      Map<String, INDArray> asked = s.run(in, RunOptions.outputs("y", "z"));
      assertClose(ort.get("y"), asked.get("y"), "requested y");
    }
  }
}
