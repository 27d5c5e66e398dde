package dev.qdebug.data;

import static dev.qdebug.TestModels.intAttr;
import static dev.qdebug.TestModels.ints;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Ort;
import dev.qdebug.Progress;
import dev.qdebug.TestModels;
import dev.qdebug.cli.Main;
import dev.qdebug.debug.AccumulatedError;
import dev.qdebug.debug.CalibrationStats;
import dev.qdebug.debug.Debugger;
import dev.qdebug.debug.LayerError;
import dev.qdebug.debug.NodeSensitivity;
import dev.qdebug.debug.SensitiveSamples;
import dev.qdebug.engine.MemoryBudget;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.metrics.Metric;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.Calibrator;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import tech.tablesaw.api.Table;
import tech.tablesaw.columns.Column;

/**
 * Batching follows the model: a detector-like graph that concatenates its features with a {@code
 * [1,4,H,W]} constant runs one sample at a time (declared batch fixed at 1 or symbolic), a model
 * with a dynamic width stacks only samples of one width; calibration and every analysis give the
 * numbers of single-sample runs, and the forward pass agrees with ONNX Runtime.
 */
class BatchPlanTest {
  @TempDir Path tmp;

  @AfterEach
  void reset() {
    MemoryBudget.setMaxBatch(MemoryBudget.MAX_BATCH);
    MemoryBudget.setCeiling(-1, null);
  }

  static float[] random(Random r, int n, double sd) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (r.nextGaussian() * sd);
    }
    return v;
  }

  /**
   * {@code x [B,3,8,8] -> Conv(24) -> Relu -> Concat(axis 1) with prior [1,4,8,8] -> Conv 1x1(6)
   * -> y}, B fixed at 1 or symbolic.
   */
  static OnnxModel detector(boolean fixedBatch) {
    Random r = new Random(7);
    long b = fixedBatch ? 1 : -1;
    return TestModels.graph()
        .input("x", b, 3, 8, 8)
        .initializer("w1", random(r, 24 * 3 * 9, 0.3), 24, 3, 3, 3)
        .initializer("b1", random(r, 24, 0.1), 24)
        .initializer("prior", random(r, 4 * 64, 1.0), 1, 4, 8, 8)
        .initializer("w2", random(r, 6 * 28, 0.3), 6, 28, 1, 1)
        .initializer("b2", random(r, 6, 0.1), 6)
        .node("Conv", "conv1", new String[] {"x", "w1", "b1"}, new String[] {"f"}, ints("pads", 1, 1, 1, 1))
        .node("Relu", "relu1", new String[] {"f"}, new String[] {"r"})
        .node("Concat", "cat", new String[] {"r", "prior"}, new String[] {"c"}, intAttr("axis", 1))
        .node("Conv", "head", new String[] {"c", "w2", "b2"}, new String[] {"y"})
        .output("y", b, 6, 8, 8)
        .model();
  }

  /** {@code x [N,3,8,W] -> Conv(4) -> Relu -> Conv(5) -> GlobalAveragePool -> y [N,5,1,1]}. */
  static OnnxModel dynamicWidth() {
    Random r = new Random(11);
    return TestModels.graph()
        .input("x", -1, 3, 8, -1)
        .initializer("w1", random(r, 4 * 3 * 9, 0.3), 4, 3, 3, 3)
        .initializer("w2", random(r, 5 * 4 * 9, 0.3), 5, 4, 3, 3)
        .node("Conv", "c1", new String[] {"x", "w1"}, new String[] {"a"}, ints("pads", 1, 1, 1, 1))
        .node("Relu", "relu", new String[] {"a"}, new String[] {"ar"})
        .node("Conv", "c2", new String[] {"ar", "w2"}, new String[] {"b"}, ints("pads", 1, 1, 1, 1))
        .node("GlobalAveragePool", "gap", new String[] {"b"}, new String[] {"y"})
        .output("y", -1, 5, 1, 1)
        .model();
  }

  static SampleSet samples(Path dir, OnnxModel model, int[] widths, int seed) {
    Random r = new Random(seed);
    for (int i = 0; i < widths.length; i++) {
      INDArray x = Nd4j.createFromArray(random(r, 3 * 8 * widths[i], 1.0)).reshape(1, 3, 8, widths[i]);
      Npy.write(dir.resolve("x").resolve(i + ".npy"), x);
    }
    return SampleSet.open(dir, model.inputs());
  }

  @Test
  void detectorRunsOneSampleAtATimeAndMatchesSingleRunsAndOrt() throws Exception {
    for (boolean fixed : new boolean[] {true, false}) {
      OnnxModel m = detector(fixed);
      SampleSet data = samples(tmp.resolve("det" + fixed), m, new int[] {8, 8, 8, 8, 8, 8}, 3);
      try (CalibratedModel cal = new CalibratedModel(m, List.of(), List.of())) {
        BatchPlan plan = BatchPlan.of(cal.session(), data, data.size(), BatchPlan.SWEEP, "test");
        assertFalse(plan.stacks(), plan.reason());
        assertTrue(plan.reason().contains("cat") && plan.reason().contains("prior"), plan.reason());
        assertEquals(data.size(), plan.batches().size());
        for (int i = 0; i < data.size(); i++) {
          Map<String, INDArray> in = data.sample(i);
          INDArray ours = cal.run(in, List.of(), RunOptions.defaults()).get("y");
          INDArray ort = Ort.run(m.proto(), in, List.of("y")).get("y");
          assertClose(ort, ours, 1e-4, "sample " + i);
        }
      }
      compareBatchedWithSingle(m, data);
    }
  }

  @Test
  void batchesAreOfEqualSizeWithoutASmallLastOne() throws Exception {
    OnnxModel m = dynamicWidth();
    int[] widths = new int[32];
    Arrays.fill(widths, 8);
    SampleSet data = samples(tmp.resolve("eq"), m, widths, 9);
    try (CalibratedModel cal = new CalibratedModel(m, List.of(), List.of())) {
      MemoryBudget.setMaxBatch(10);
      // 32 samples, at most 10 per batch: four batches of 8, not 10, 10, 10 and 2
      assertEquals("[8, 8, 8, 8]", sizes(BatchPlan.of(cal.session(), data, 32, BatchPlan.SWEEP, "test").batches()));
      assertEquals("[8, 8, 8, 8]", sizes(BatchPlan.of(cal.session(), data, 32, BatchPlan.SWEEP, "test").inOrder()));
      // 21: three of 7; 20: two of 10
      assertEquals("[7, 7, 7]", sizes(BatchPlan.of(cal.session(), data, 21, BatchPlan.SWEEP, "test").batches()));
      assertEquals("[10, 10]", sizes(BatchPlan.of(cal.session(), data, 20, BatchPlan.SWEEP, "test").batches()));
      MemoryBudget.setMaxBatch(MemoryBudget.MAX_BATCH);
      assertEquals("[32]", sizes(BatchPlan.of(cal.session(), data, 32, BatchPlan.SWEEP, "test").batches()));
    }
  }

  static String sizes(List<BatchPlan.Batch> batches) {
    return batches.stream().map(BatchPlan.Batch::size).toList().toString();
  }

  @Test
  void unequalWidthsAreGroupedByShapeAndMatchSingleRunsAndOrt() throws Exception {
    OnnxModel m = dynamicWidth();
    int[] widths = {8, 8, 12, 12, 8, 16, 12, 8};
    SampleSet data = samples(tmp.resolve("dyn"), m, widths, 5);
    try (CalibratedModel cal = new CalibratedModel(m, List.of(), List.of())) {
      BatchPlan plan = BatchPlan.of(cal.session(), data, data.size(), BatchPlan.SWEEP, "test");
      assertTrue(plan.stacks(), plan.reason());
      for (BatchPlan.Batch b : plan.batches()) {
        for (int k = 1; k < b.size(); k++) {
          assertEquals(widths[b.sample(0)], widths[b.sample(k)], Arrays.toString(b.samples()));
        }
      }
      // widths 8 (4 samples), 12 (3), 16 (1)
      assertEquals(3, plan.batches().size());
      List<int[]> ordered = plan.inOrder().stream().map(BatchPlan.Batch::samples).toList();
      assertEquals("[[0, 1], [2, 3], [4], [5], [6], [7]]", deep(ordered));
      for (BatchPlan.Batch b : plan.batches()) {
        Map<String, INDArray> in = data.batch(b.samples());
        INDArray ours = cal.run(in, List.of(), RunOptions.defaults()).get("y");
        for (int k = 0; k < b.size(); k++) {
          INDArray ort = Ort.run(m.proto(), data.sample(b.sample(k)), List.of("y")).get("y");
          assertClose(ort, ours.get(org.nd4j.linalg.indexing.NDArrayIndex.point(k)).reshape(ort.shape()), 1e-4, "sample " + b.sample(k));
        }
      }
    }
    compareBatchedWithSingle(m, data);
  }

  private static String deep(List<int[]> l) {
    List<String> s = new ArrayList<>();
    l.forEach(a -> s.add(Arrays.toString(a)));
    return s.toString();
  }

  /** Calibration and every analysis, batched as planned and one sample per run: same numbers. */
  private static void compareBatchedWithSingle(OnnxModel m, SampleSet data) {
    for (CalibrationMethod method :
        List.of(CalibrationMethod.MAX, CalibrationMethod.PERCENTILE, CalibrationMethod.KL, CalibrationMethod.DEFAULT)) {
      Calibrator.Options o = Calibrator.Options.defaults().method(method);
      MemoryBudget.setMaxBatch(1);
      Calibrator.Result single = Calibrator.run(m, data, o, Progress.NONE);
      MemoryBudget.setMaxBatch(MemoryBudget.MAX_BATCH);
      Calibrator.Result batched = Calibrator.run(m, data, o, Progress.NONE);
      try (CalibratedModel a = single.model(); CalibratedModel b = batched.model()) {
        assertEquals(single.method(), batched.method(), "method chosen, " + method);
        assertEquals(a.nodes().size(), b.nodes().size());
        for (int i = 0; i < a.nodes().size(); i++) {
          CalibrationNode x = a.nodes().get(i);
          CalibrationNode y = b.nodes().get(i);
          assertEquals(x.name(), y.name());
          assertArrayEquals(x.params().scale(), y.params().scale(), 1e-6, method + " " + x.name());
          assertEquals(Arrays.toString(x.params().zeroPoint()), Arrays.toString(y.params().zeroPoint()));
        }
      }
    }
    try (CalibratedModel cal = Calibrator.calibrate(m, data, Calibrator.Options.defaults().method(CalibrationMethod.MAX), Progress.NONE)) {
      Debugger dbg = Debugger.of(cal, data);
      List<Supplier<List<Table>>> analyses =
          List.of(
              () -> List.of(dbg.getSensitivityOfNodes(NodeSensitivity.Options.defaults().dataNum(0)).table()),
              () ->
                  List.of(
                      dbg.getSensitivityOfNodes(
                              NodeSensitivity.Options.defaults()
                                  .dataNum(0)
                                  .nodeType(NodeSensitivity.NodeType.WEIGHT)
                                  .metrics(List.of(Metric.COSINE_SIMILARITY, Metric.MSE)))
                          .detail()),
              () -> List.of(dbg.layerError(LayerError.Options.defaults().dataNum(0)).table()),
              () -> List.of(dbg.getCalibrationNodesStatInfo(CalibrationStats.Options.defaults().dataNum(0)).table()),
              () -> List.of(dbg.selectSensitiveSamples(SensitiveSamples.Options.defaults().dataNum(0)).all()),
              () -> dbg.plotAccError(AccumulatedError.Options.defaults().dataNum(0)).plots().stream().map(AccumulatedError.Plot::table).toList());
      for (Supplier<List<Table>> a : analyses) {
        MemoryBudget.setMaxBatch(1);
        List<Table> one = a.get();
        MemoryBudget.setMaxBatch(MemoryBudget.MAX_BATCH);
        List<Table> many = a.get();
        assertEquals(one.size(), many.size());
        for (int t = 0; t < one.size(); t++) {
          assertTablesClose(one.get(t), many.get(t));
        }
      }
    }
  }

  static void assertTablesClose(Table a, Table b) {
    assertEquals(a.columnNames(), b.columnNames(), a.name());
    assertEquals(a.rowCount(), b.rowCount(), a.name());
    for (int c = 0; c < a.columnCount(); c++) {
      Column<?> x = a.column(c);
      Column<?> y = b.column(c);
      for (int r = 0; r < a.rowCount(); r++) {
        Object u = x.get(r);
        Object v = y.get(r);
        if (u instanceof Number p && v instanceof Number q) {
          double d = p.doubleValue();
          double e = q.doubleValue();
          boolean same = d == e || (Double.isNaN(d) && Double.isNaN(e)) || Math.abs(d - e) <= 1e-5 * Math.max(1, Math.abs(d));
          assertTrue(same, a.name() + " column " + x.name() + " row " + r + ": " + d + " vs " + e);
        } else {
          assertEquals(String.valueOf(u), String.valueOf(v), a.name() + " column " + x.name() + " row " + r);
        }
      }
    }
  }

  static void assertArrayEquals(float[] a, float[] b, double rel, String what) {
    assertEquals(a.length, b.length, what);
    for (int i = 0; i < a.length; i++) {
      assertTrue(Math.abs(a[i] - b[i]) <= rel * Math.max(1e-30, Math.abs(a[i])), what + "[" + i + "]: " + a[i] + " vs " + b[i]);
    }
  }

  static void assertClose(INDArray want, INDArray got, double tol, String what) {
    assertEquals(Arrays.toString(want.shape()), Arrays.toString(got.shape()), what);
    float[] w = want.dup('c').data().asFloat();
    float[] g = got.dup('c').data().asFloat();
    for (int i = 0; i < w.length; i++) {
      assertTrue(Math.abs(w[i] - g[i]) <= tol * Math.max(1, Math.abs(w[i])), what + " at " + i + ": " + w[i] + " vs " + g[i]);
    }
  }

  @Test
  void maxMemoryTooSmallIsAClearErrorAndEnoughRuns() throws Exception {
    OnnxModel m = dynamicWidth();
    SampleSet data = samples(tmp.resolve("d"), m, new int[] {8, 8, 8}, 9);
    Path cal = tmp.resolve("cal.onnx");
    try (CalibratedModel c = Calibrator.calibrate(m, data, Calibrator.Options.defaults().method(CalibrationMethod.MAX), Progress.NONE)) {
      c.save(cal);
    }
    String[] base = {"get-sensitivity-of-nodes", "--model", cal.toString(), "--calibration-data", tmp.resolve("d").toString(), "--data-num", "0"};
    StringWriter err = new StringWriter();
    List<String> args = new ArrayList<>(List.of(base));
    args.addAll(List.of("--max-memory", "100m"));
    int rc = Main.run(args.toArray(String[]::new), new PrintWriter(new StringWriter()), new PrintWriter(err));
    assertEquals(2, rc, err.toString());
    assertTrue(err.toString().contains("--max-memory 100m"), err.toString());
    assertTrue(err.toString().contains("get-sensitivity-of-nodes"), err.toString());
    assertEquals(1, err.toString().strip().lines().count(), err.toString());

    args = new ArrayList<>(List.of(base));
    args.addAll(List.of("--max-memory", "lots"));
    err = new StringWriter();
    assertEquals(2, Main.run(args.toArray(String[]::new), new PrintWriter(new StringWriter()), new PrintWriter(err)));
    assertTrue(err.toString().contains("--max-memory"), err.toString());

    args = new ArrayList<>(List.of(base));
    // a hard cap on this JVM's resident size: 4g, or more when the tests before took more
    long enough = Math.max(4096, (MemoryBudget.resident() >> 20) + 2048);
    args.addAll(List.of("--max-memory", enough + "m"));
    err = new StringWriter();
    StringWriter out = new StringWriter();
    assertEquals(0, Main.run(args.toArray(String[]::new), new PrintWriter(out), new PrintWriter(err)), err.toString());
    assertTrue(out.toString().contains("c1"), out.toString());
    assertTrue(Files.exists(cal));
  }

  @Test
  void budgetSizesBatches() {
    assertEquals(4L << 30, MemoryBudget.parse("4g", "--max-memory"));
    assertEquals(512L << 20, MemoryBudget.parse("512M", "--max-memory"));
    assertEquals(1000, MemoryBudget.parse("1000", "--max-memory"));
    MemoryBudget.setCeiling(2L << 30, "2g");
    // 2 GiB - 768 MiB reserve - 2 x 100 MiB weights = 1080 MiB for 3 copies of 50 MiB a sample: 7
    assertEquals(7, MemoryBudget.batchSize(50L << 20, 3, 100L << 20, 16, "x"));
    assertEquals(16, MemoryBudget.batchSize(1L << 20, 3, 100L << 20, 16, "x"));
    MemoryBudget.setCeiling(-1, null);
    assertEquals(16, MemoryBudget.batchSize(1L << 20, 3, 100L << 20, 16, "x"));
  }
}
