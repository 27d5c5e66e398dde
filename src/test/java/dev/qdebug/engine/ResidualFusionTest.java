package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Ort;
import dev.qdebug.TestModels;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Conv + residual Add (+ Relu) fused into one oneDNN convolution whose destination starts as the
 * residual: the fused plan gives the unfused plan's values bit for bit, in plain runs, hooked runs
 * and re-runs, and ONNX Runtime's within rounding; a residual computed after the convolution, or
 * a hook on the convolution's output, keeps the ops apart.
 */
class ResidualFusionTest {
  /**
   * x -> conv1 -> Relu -> r1; conv2(r1) -> c2; s = r1 + c2 -> Relu -> y (fused with conv2);
   * conv3(y) -> c3; z = c3 + y (fused, no activation); conv6(conv4(y)) -> c4, conv5(y) -> c5, w =
   * c4 + c5: the plan runs conv5 before conv6 (ready first), so conv6 fuses with the residual c5
   * and conv5 does not (its residual comes later), as a ResNet block's last convolution fuses with
   * its downsampling shortcut.
   */
  static ModelProto model() {
    Random r = new Random(5);
    int ch = 16;
    return TestModels.graph()
        .opset(13)
        .input("x", -1, 3, -1, -1)
        .initializer("w1", FusionTest.rand(r, ch * 3 * 9), ch, 3, 3, 3)
        .initializer("w2", FusionTest.rand(r, ch * ch * 9), ch, ch, 3, 3)
        .initializer("b2", FusionTest.rand(r, ch), ch)
        .initializer("w3", FusionTest.rand(r, ch * ch), ch, ch, 1, 1)
        .initializer("w4", FusionTest.rand(r, ch * ch * 9), ch, ch, 3, 3)
        .initializer("w5", FusionTest.rand(r, ch * ch), ch, ch, 1, 1)
        .initializer("w6", FusionTest.rand(r, ch * ch), ch, ch, 1, 1)
        .node("Conv", "conv1", new String[] {"x", "w1"}, new String[] {"c1"},
            TestModels.ints("pads", 1, 1, 1, 1))
        .node("Relu", "relu1", new String[] {"c1"}, new String[] {"r1"})
        .node("Conv", "conv2", new String[] {"r1", "w2", "b2"}, new String[] {"c2"},
            TestModels.ints("pads", 1, 1, 1, 1))
        .node("Add", "add2", new String[] {"r1", "c2"}, new String[] {"s"})
        .node("Relu", "relu2", new String[] {"s"}, new String[] {"y"})
        .node("Conv", "conv3", new String[] {"y", "w3"}, new String[] {"c3"})
        .node("Add", "add3", new String[] {"c3", "y"}, new String[] {"z"})
        .node("Conv", "conv4", new String[] {"y", "w4"}, new String[] {"c4a"},
            TestModels.ints("pads", 1, 1, 1, 1))
        .node("Conv", "conv6", new String[] {"c4a", "w6"}, new String[] {"c4"})
        .node("Conv", "conv5", new String[] {"y", "w5"}, new String[] {"c5"})
        .node("Add", "add5", new String[] {"c4", "c5"}, new String[] {"w"})
        .output("z", -1, 16, -1, -1)
        .output("w", -1, 16, -1, -1)
        .proto();
  }

  private static float[] values(INDArray a) {
    return a.dup('c').data().asFloat();
  }

  private static void assertSame(Map<String, INDArray> want, Map<String, INDArray> got, String what) {
    for (String t : want.keySet()) {
      assertArrayEquals(values(want.get(t)), values(got.get(t)), what + ": " + t);
    }
  }

  /**
   * A re-run from a changed weight (a weight sweep's candidates) gives the unfused values: a fused
   * step re-runs where its convolution's inputs changed, and where only the residual did (w5: the
   * residual c5 of conv6's fused step; this once left the output unchanged, ResNet-50's
   * downsampling convolutions scoring 1.0 in the weight sweep), and a trimmed snapshot then keeps
   * the fused step's inputs (from w5 nothing else reads c4a).
   */
  @Test
  void rerunsFromAFusedConvolutionsWeightUseTheChangedWeight() {
    OnnxModel m = OnnxModel.of(model(), "residual");
    Map<String, INDArray> in = FusionTest.feed(12);
    for (String w : List.of("w2", "w3", "w4", "w5", "w6")) {
      TensorHook half = TensorHook.only(Set.of(w), (name, v) -> v.mul(0.5));
      Map<String, INDArray> want;
      try (Session u = FusionTest.unfused(() -> Session.open(m))) {
        want = u.run(in, RunOptions.hooked(half));
      }
      try (Session s = Session.open(m)) {
        assertSame(want, s.run(in, RunOptions.hooked(half)), "hook on " + w);
        try (Snapshot base = s.snapshot(in)) {
          assertSame(want, s.rerun(base, List.of(w), RunOptions.hooked(half)), "re-run from " + w);
        }
        // a sweep's snapshot keeps only what re-runs from the candidates read: the fused step's
        // own inputs too, where only its residual is downstream of the change
        try (Snapshot base = s.snapshot(in, List.of(w), List.of("z", "w"))) {
          assertSame(want, s.rerun(base, List.of(w), RunOptions.hooked(half)), "re-run from " + w + ", trimmed snapshot");
        }
      }
    }
  }

  /**
   * Step timing ({@link Plan#timeSteps}): a plain run adds time at each step it executes, a fused
   * step's at its first step, none at the steps it does; runs leave the times alone once timing is
   * off.
   */
  @Test
  void timedStepsAreTheStepsARunExecutes() {
    try (Session s = Session.open(OnnxModel.of(model(), "residual"))) {
      Plan plan = s.plan();
      long[] nanos = new long[plan.steps().size()];
      plan.timeSteps(nanos);
      s.run(FusionTest.feed(12));
      plan.timeSteps(null);
      int executed = 0;
      for (int k = 0; k < nanos.length; k++) {
        if (plan.stepRunAs(k) == null) {
          assertEquals(0, nanos[k], "step " + k + " is done by a fused step");
        } else {
          assertTrue(nanos[k] > 0, "step " + k + " ran");
          executed++;
        }
      }
      // 11 nodes, of which relu1, add2, relu2, add3 and add5 are parts of fused steps
      assertEquals(plan.steps().size() - 5, executed);
      long[] before = nanos.clone();
      s.run(FusionTest.feed(12));
      assertArrayEquals(before, nanos, "timing is off");
      assertThrows(IllegalArgumentException.class, () -> plan.timeSteps(new long[1]));
    }
  }

  @Test
  void fusedResidualsAreTheUnfusedOpsBitForBit() {
    ModelProto proto = model();
    OnnxModel m = OnnxModel.of(proto, "residual");
    Map<String, INDArray> in = FusionTest.feed(12);
    TensorHook half = TensorHook.only(Set.of("r1"), (name, v) -> v.mul(0.5));
    TensorHook onC2 = TensorHook.only(Set.of("c2"), (name, v) -> v.mul(0.5));
    Map<String, INDArray> plainRef;
    Map<String, INDArray> halfRef;
    Map<String, INDArray> c2Ref;
    Map<String, INDArray> rerunRef;
    try (Session u = FusionTest.unfused(() -> Session.open(m))) {
      assertEquals(0, u.plan().fusedSteps());
      plainRef = u.run(in);
      halfRef = u.run(in, RunOptions.hooked(half));
      c2Ref = u.run(in, RunOptions.hooked(onC2));
      try (Snapshot base = u.snapshot(in)) {
        rerunRef = u.rerun(base, List.of("r1"), RunOptions.hooked(half));
      }
    }
    Map<String, INDArray> ort = Ort.run(proto, in, List.of("z", "w"));
    try (Session s = Session.open(m)) {
      assertEquals(4, s.plan().fusedSteps(), "conv1+relu1, conv2+add2+relu2, conv3+add3, conv6+add5");
      Map<String, INDArray> plain = s.run(in);
      assertSame(plainRef, plain, "plain run");
      for (String t : List.of("z", "w")) {
        FusionTest.assertClose(ort.get(t), plain.get(t), t + " vs ORT");
      }
      // a hook changing the residual: the fused steps still run, reading the hooked value
      assertEquals(4, s.plan().fusedStepsUsed(half, List.of()));
      assertSame(halfRef, s.run(in, RunOptions.hooked(half)), "hook on the residual");
      // a hook on the convolution's output: conv2's fused step must stay apart
      assertEquals(3, s.plan().fusedStepsUsed(onC2, List.of()));
      assertSame(c2Ref, s.run(in, RunOptions.hooked(onC2)), "hook on conv2's output");
      try (Snapshot base = s.snapshot(in)) {
        assertSame(rerunRef, s.rerun(base, List.of("r1"), RunOptions.hooked(half)), "re-run");
      }
    }
  }
}
