package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.onnx.OnnxModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.abstracts.Nd4jWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The classic workspace bugs: a session reuses its memory on every run, so whatever outlives a
 * run (returned values, tensors a hook keeps, op caches, nested sessions' results) must not live
 * in that memory. Each check runs a session again with other inputs and verifies that what the
 * first run handed out still holds the first run's values, bit for bit, and that the results
 * equal those of a session without a workspace.
 */
class WorkspaceTest {
  static final String[] MODELS = {
    "mnasnet_like_op13.onnx", "mobilevit_like_op17.onnx", "opsets_cnn_op13.onnx", "repvgg_like_op13.onnx"
  };

  static OnnxModel model(String name) throws Exception {
    return OnnxModel.load(Path.of(WorkspaceTest.class.getResource("/models/" + name).toURI()));
  }

  static INDArray input(OnnxModel m, long batch, long seed) {
    long[] shape = m.inputs().get(0).shape().clone();
    shape[0] = batch;
    Nd4j.getRandom().setSeed(seed);
    return Nd4j.rand(DataType.FLOAT, shape).subi(0.5).muli(4);
  }

  static Map<String, INDArray> feed(OnnxModel m, INDArray x) {
    return Map.of(m.inputs().get(0).name(), x);
  }

  /** Every node output of the plan, for asking a run to return all of them. */
  static List<String> allTensors(Session s) {
    List<String> all = new ArrayList<>();
    for (Plan.Step st : s.plan().steps()) {
      for (String o : st.node().outputs()) {
        if (!o.isEmpty()) {
          all.add(o);
        }
      }
    }
    return all;
  }

  /** A copy of every value as Java doubles (bits of floats preserved). */
  static Map<String, double[]> snapshot(Map<String, INDArray> values) {
    Map<String, double[]> out = new LinkedHashMap<>();
    values.forEach((k, v) -> out.put(k, v.dup('c').data().asDouble()));
    return out;
  }

  static void assertSameValues(Map<String, double[]> expected, Map<String, INDArray> actual, String what) {
    assertEquals(expected.keySet(), actual.keySet(), what);
    for (String k : expected.keySet()) {
      assertArrayEquals(expected.get(k), actual.get(k).dup('c').data().asDouble(), what + ": " + k);
    }
  }

  /** Runs {@code body} with sessions opened without a workspace (the old allocation path). */
  static <T> T withoutWorkspace(Supplier<T> body) {
    String old = System.getProperty(Session.WORKSPACE_PROPERTY);
    System.setProperty(Session.WORKSPACE_PROPERTY, "false");
    try {
      return body.get();
    } finally {
      if (old == null) {
        System.clearProperty(Session.WORKSPACE_PROPERTY);
      } else {
        System.setProperty(Session.WORKSPACE_PROPERTY, old);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mnasnet_like_op13.onnx", "mobilevit_like_op17.onnx", "opsets_cnn_op13.onnx"})
  void returnedValuesAndKeptTensorsSurviveLaterRuns(String file) throws Exception {
    OnnxModel m = model(file);
    INDArray x1 = input(m, 2, 1);
    INDArray x2 = input(m, 2, 2);
    INDArray x3 = input(m, 5, 3); // another batch: the workspace grows
    try (Session plain = withoutWorkspace(() -> Session.open(m));
        Session s = Session.open(m)) {
      List<String> all = allTensors(s);
      Map<String, double[]> want1 = snapshot(plain.run(feed(m, x1), RunOptions.outputs(all)));
      Map<String, double[]> want2 = snapshot(plain.run(feed(m, x2), RunOptions.outputs(all)));
      Map<String, double[]> wantOut1 = snapshot(plain.run(feed(m, x1)));

      for (int round = 0; round < 3; round++) { // round 0 learns, later rounds reuse the block
        Map<String, INDArray> kept = new LinkedHashMap<>();
        List<INDArray> seen = new ArrayList<>();
        TensorHook keep =
            (name, v) -> {
              if (all.contains(name)) {
                kept.put(name, Workspaces.keep(v));
                seen.add(v);
              }
              return v;
            };
        Map<String, INDArray> out1 = s.run(feed(m, x1));
        Map<String, INDArray> taps1 = s.run(feed(m, x1), RunOptions.outputs(all).hook(keep));
        assertTrue(
            seen.stream().anyMatch(Workspaces::inWorkspace), "the run used no workspace at all");
        for (INDArray v : out1.values()) {
          assertFalse(Workspaces.inWorkspace(v), "a returned value lives in the workspace");
        }
        for (int i = 0; i < 3; i++) {
          s.run(feed(m, x2), RunOptions.outputs(all));
          s.run(feed(m, i == 1 ? x3 : x2));
        }
        Map<String, INDArray> taps2 = s.run(feed(m, x2), RunOptions.outputs(all));
        assertSameValues(wantOut1, out1, file + " round " + round + " first run's outputs");
        assertSameValues(want1, taps1, file + " round " + round + " first run's tapped tensors");
        assertSameValues(want1, kept, file + " round " + round + " tensors a hook kept");
        assertSameValues(want2, taps2, file + " round " + round + " second run");
      }
    }
  }

  @Test
  void steadyStateRunsAllocateNothingOutsideTheWorkspace() throws Exception {
    OnnxModel m = model("mnasnet_like_op13.onnx");
    INDArray x = input(m, 4, 1);
    try (Session s = Session.open(m)) {
      List<Long> spills = new ArrayList<>();
      List<Long> addresses = new ArrayList<>();
      String last = m.outputs().get(0).name();
      String mid = allTensors(s).get(allTensors(s).size() / 2);
      TensorHook probe =
          (name, v) -> {
            if (name.equals(mid)) {
              addresses.add(v.data().address());
            }
            if (name.equals(last)) {
              MemoryWorkspace ws = Nd4j.getMemoryManager().getCurrentWorkspace();
              assertNotNull(ws, "no workspace active during the run");
              spills.add((long) ((Nd4jWorkspace) ws).getNumberOfExternalAllocations());
            }
            return v;
          };
      for (int i = 0; i < 4; i++) {
        s.run(feed(m, input(m, 4, 10 + i)), RunOptions.hooked(probe));
      }
      // run 0 learns the size (everything spills); afterwards nothing does
      assertTrue(spills.get(0) > 0, "spills " + spills);
      assertEquals(List.of(0L, 0L, 0L), spills.subList(1, 4), "spills " + spills);
      // and the same tensor lands at the same address every steady-state run
      assertEquals(addresses.get(1), addresses.get(2));
      assertEquals(addresses.get(2), addresses.get(3));
      assertFalse(Workspaces.inWorkspace(s.run(feed(m, x)).get(last)));
    }
  }

  @Test
  void nestedAndReentrantRunsKeepTheirValues() throws Exception {
    OnnxModel outerModel = model("mnasnet_like_op13.onnx");
    OnnxModel innerModel = model("repvgg_like_op13.onnx");
    INDArray innerX = input(innerModel, 3, 7);
    try (Session outer = Session.open(outerModel);
        Session inner = Session.open(innerModel)) {
      Map<String, double[]> innerWant = snapshot(inner.run(feed(innerModel, innerX)));
      List<String> all = allTensors(outer);
      String tapped = all.get(all.size() / 3);
      for (int round = 0; round < 3; round++) {
        INDArray x = input(outerModel, 2, round);
        Map<String, double[]> outerWant = snapshot(outer.run(feed(outerModel, x)));
        List<Map<String, INDArray>> innerGot = new ArrayList<>();
        List<Map<String, INDArray>> reentrantGot = new ArrayList<>();
        boolean[] inside = {false};
        TensorHook nest =
            (name, v) -> {
              if (name.equals(tapped)) {
                innerGot.add(inner.run(feed(innerModel, innerX)));
                if (!inside[0]) {
                  inside[0] = true;
                  reentrantGot.add(outer.run(feed(outerModel, x))); // the same session, inside
                  inside[0] = false;
                }
                innerGot.add(inner.run(feed(innerModel, innerX)));
              }
              return v;
            };
        Map<String, INDArray> got = outer.run(feed(outerModel, x), RunOptions.hooked(nest));
        Map<String, INDArray> after = outer.run(feed(outerModel, input(outerModel, 2, 99)));
        assertSameValues(outerWant, got, "outer run with nested runs");
        assertEquals(1, reentrantGot.size());
        assertSameValues(outerWant, reentrantGot.get(0), "re-entrant run");
        assertEquals(2, innerGot.size()); // before and after the re-entrant run
        for (Map<String, INDArray> g : innerGot) {
          assertSameValues(innerWant, g, "nested session");
        }
        assertNotNull(after);
      }
      assertSameValues(innerWant, inner.run(feed(innerModel, innerX)), "inner session afterwards");
    }
  }

  @Test
  void workspaceAndPlainSessionsAgreeBitForBit() throws Exception {
    for (String file : MODELS) {
      OnnxModel m = model(file);
      try (Session plain = withoutWorkspace(() -> Session.open(m));
          Session s = Session.open(m)) {
        List<String> all = allTensors(s);
        for (long batch : new long[] {1, 8, 3}) {
          INDArray x = input(m, batch, batch);
          Map<String, double[]> want = snapshot(plain.run(feed(m, x), RunOptions.outputs(all)));
          for (int i = 0; i < 2; i++) {
            assertSameValues(want, s.run(feed(m, x), RunOptions.outputs(all)), file + " b" + batch);
          }
        }
      }
    }
  }

  @Test
  void shapeArithmeticIsReusedOnlyWhileShapesAndArraysStayTheSame() {
    OnnxModel m =
        dev.qdebug.TestModels.graph()
            .input("x", -1, 6)
            .output("y", -1, 6)
            .node("Shape", "shape", new String[] {"x"}, new String[] {"s"})
            .node("Abs", "abs", new String[] {"s"}, new String[] {"t"})
            .node("Reshape", "reshape", new String[] {"x", "t"}, new String[] {"y"})
            .model();
    try (Session s = Session.open(m)) {
      INDArray x2 = Nd4j.rand(DataType.FLOAT, 2, 6);
      INDArray x3 = Nd4j.rand(DataType.FLOAT, 3, 6);
      TensorHook swap =
          (name, v) -> name.equals("s") ? Nd4j.createFromArray(4L, 3L) : v;
      assertArrayEquals(new long[] {2, 6}, s.run(Map.of("x", x2)).get("y").shape());
      INDArray swapped = s.run(Map.of("x", x2), RunOptions.hooked(swap)).get("y");
      assertArrayEquals(new long[] {4, 3}, swapped.shape());
      assertArrayEquals(x2.dup('c').data().asFloat(), swapped.dup('c').data().asFloat());
      assertArrayEquals(new long[] {2, 6}, s.run(Map.of("x", x2)).get("y").shape());
      assertArrayEquals(new long[] {3, 6}, s.run(Map.of("x", x3)).get("y").shape());
      // a returned shape tensor is the caller's copy
      INDArray t = s.run(Map.of("x", x3), RunOptions.outputs("t")).get("t");
      t.putScalar(0, 18L);
      t.putScalar(1, 1L);
      assertArrayEquals(new long[] {3, 6}, s.run(Map.of("x", x3)).get("y").shape());
      assertArrayEquals(new long[] {3, 6}, s.run(Map.of("x", x3), RunOptions.outputs("t")).get("t").toLongVector());
    }
  }

  /**
   * One session run on three threads at once, each with its own batch size (so the shape
   * arithmetic a transformer computes from the input's shape differs between them), gives each
   * thread what a run alone gives.
   */
  @Test
  void runsOnSeveralThreadsAtOnceGiveWhatRunsAloneGive() throws Exception {
    OnnxModel m = model("mobilevit_like_op17.onnx");
    long[] batches = {1, 2, 3};
    List<Map<String, double[]>> want = new java.util.ArrayList<>();
    try (Session alone = Session.open(m)) {
      for (long b : batches) {
        want.add(snapshot(alone.run(feed(m, input(m, b, 7 + b)))));
      }
    }
    try (Session s = Session.open(m)) {
      java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(3);
      try {
        List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
        for (int t = 0; t < batches.length; t++) {
          int k = t;
          done.add(pool.submit(() -> {
            for (int r = 0; r < 6; r++) {
              assertSameValues(
                  want.get(k), s.run(feed(m, input(m, batches[k], 7 + batches[k]))),
                  "batch " + batches[k] + " run " + r);
            }
            s.releaseWorkspace(); // this thread's block
            return null;
          }));
        }
        for (java.util.concurrent.Future<?> f : done) {
          f.get();
        }
      } finally {
        pool.shutdown();
      }
    }
  }

  @Test
  void closeReleasesTheWorkspaceAndRefusesRuns() throws Exception {
    OnnxModel m = model("repvgg_like_op13.onnx");
    Session s = Session.open(m);
    INDArray x = input(m, 2, 1);
    Map<String, INDArray> out = s.run(feed(m, x));
    Map<String, double[]> want = snapshot(out);
    s.run(feed(m, x));
    s.close();
    assertSameValues(want, out, "outputs after close");
    org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> s.run(feed(m, x)));
  }

  @Test
  void releasedWorkspaceIsLearnedAgainWithTheSameResults() throws Exception {
    OnnxModel m = model("mobilevit_like_op17.onnx");
    INDArray x = input(m, 4, 5);
    try (Session s = Session.open(m)) {
      List<String> all = allTensors(s);
      Map<String, double[]> want = snapshot(s.run(feed(m, x), RunOptions.outputs(all)));
      s.run(feed(m, x), RunOptions.outputs(all));
      long learned = s.workspaceBytes();
      assertTrue(learned > 0, "no workspace block after two runs");
      assertEquals(learned, s.releaseWorkspace());
      assertEquals(0, s.workspaceBytes());
      assertEquals(0, s.releaseWorkspace(), "released twice");
      for (int i = 0; i < 2; i++) { // the first run learns again, the second reuses the block
        assertSameValues(want, s.run(feed(m, x), RunOptions.outputs(all)), "after release, run " + i);
      }
      assertEquals(learned, s.workspaceBytes(), "the same block is learned again");
    }
  }

  @Test
  void releasingIdleWorkspacesSparesRunningSessions() throws Exception {
    OnnxModel outerModel = model("mnasnet_like_op13.onnx");
    OnnxModel idleModel = model("repvgg_like_op13.onnx");
    INDArray x = input(outerModel, 2, 3);
    INDArray y = input(idleModel, 2, 4);
    try (Session outer = Session.open(outerModel);
        Session idle = Session.open(idleModel)) {
      Map<String, double[]> want = snapshot(outer.run(feed(outerModel, x)));
      Map<String, double[]> idleWant = snapshot(idle.run(feed(idleModel, y)));
      idle.run(feed(idleModel, y));
      assertTrue(idle.workspaceBytes() > 0);
      String mid = allTensors(outer).get(allTensors(outer).size() / 2);
      long[] freed = {-1};
      long[] outerDuring = {-1};
      TensorHook release =
          (name, v) -> {
            if (name.equals(mid)) {
              outerDuring[0] = outer.workspaceBytes();
              freed[0] = Session.releaseIdleWorkspaces();
            }
            return v;
          };
      Map<String, INDArray> got = outer.run(feed(outerModel, x), RunOptions.hooked(release));
      assertSameValues(want, got, "the running session's result");
      assertTrue(outerDuring[0] > 0);
      assertTrue(freed[0] > 0, "the idle session's block was not released");
      assertEquals(0, idle.workspaceBytes(), "the idle session kept its block");
      assertTrue(outer.workspaceBytes() > 0, "the running session lost its block");
      assertSameValues(idleWant, idle.run(feed(idleModel, y)), "the idle session afterwards");
    }
  }
}
