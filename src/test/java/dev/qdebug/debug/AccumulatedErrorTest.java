package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.ModelException;
import dev.qdebug.UsageException;
import dev.qdebug.metrics.Metric;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Accumulated error curves on the two-branch net, against its plain-Java implementation: every
 * point of every curve, for each mode, and the sqnr/inf and average-mode edge cases.
 */
class AccumulatedErrorTest {
  @TempDir static Path tmp;
  static TwoBranch net;
  static final int N = 6;

  @BeforeAll
  static void setUp() {
    net = TwoBranch.write(tmp, N, 4);
  }

  static Debugger debugger() {
    return Debugger.open(net.calibratedModel, net.calibration);
  }

  /** Expected curve: the metric of points a, b, y between float and {@code quantized}. */
  static double[] expected(List<String> quantized, Metric m) {
    Map<String, float[][]> f = net.forward(net.calibrationX, List.of());
    Map<String, float[][]> q = net.forward(net.calibrationX, quantized);
    double[] out = new double[3];
    String[] t = {"a", "b", "y"};
    for (int p = 0; p < 3; p++) {
      double s = 0;
      for (int i = 0; i < N; i++) {
        s += m.compute(f.get(t[p])[i], q.get(t[p])[i]);
      }
      out[p] = s / N;
    }
    return out;
  }

  static void assertCurve(double[] want, double[] got, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], 1e-5, what + " point " + i);
    }
  }

  @Test
  void weightAndActivationSplitSinglesOutTheBadWeight() {
    try (Debugger dbg = debugger()) {
      AccumulatedError.Result r =
          dbg.plotAccError(AccumulatedError.Options.defaults().dataNum(N));
      assertEquals(
          List.of(
              new AccumulatedError.Point("mm_a", "a"),
              new AccumulatedError.Point("mm_b", "b"),
              new AccumulatedError.Point("add", "y")),
          r.points(),
          "every output of every normal node, in graph order; relu has no calibration node");
      AccumulatedError.Plot p = r.plot("weight_activation_quantized_separately");
      assertEquals(
          List.of(
              "weight_activation_calibrated", "only_activation_calibrated", "only_weight_calibrated"),
          p.curves());
      Metric cos = Metric.COSINE_SIMILARITY;
      double[] w = p.curve("only_weight_calibrated");
      assertCurve(expected(List.of("Wa", "Wb"), cos), w, "only weights");
      assertEquals(0.0, w[1], 1e-12, "int8 Wb rounds to 0 where x is non-zero: b is all zero");
      assertCurve(expected(List.of("x", "a", "b"), cos), p.curve("only_activation_calibrated"), "only activations");
      assertTrue(p.curve("only_activation_calibrated")[1] > 0.999, "activations alone are fine");
      assertCurve(expected(TwoBranch.all(), cos), p.curve("weight_activation_calibrated"), "all");
      assertEquals("weight_activation_quantized_separately_cosine-similarity", p.fileStem());
    }
  }

  @Test
  void onlyWeightOrOnlyActivation() {
    try (Debugger dbg = debugger()) {
      var o = AccumulatedError.Options.defaults().dataNum(N);
      var r = dbg.plotAccError(o.quantizeNode(List.of("weight", "mm_a")));
      assertEquals(1, r.plots().size(), "node names beside 'weight' are ignored, as in Horizon");
      assertEquals(List.of("weight_activation_calibrated", "only_weight_calibrated"), r.plot("weight_quantized").curves());
      r = dbg.plotAccError(o.quantizeNode(List.of("activation")).metric(Metric.MSE));
      assertEquals(List.of("weight_activation_calibrated", "only_activation_calibrated"), r.plot("activation_quantized").curves());
      assertCurve(expected(List.of("x", "a", "b"), Metric.MSE), r.plot("activation_quantized").curve("only_activation_calibrated"), "mse");
    }
  }

  @Test
  void flatListsGiveOneCurvePerNodeInTheOrderGiven() {
    try (Debugger dbg = debugger()) {
      var r =
          dbg.plotAccError(
              AccumulatedError.Options.defaults()
                  .dataNum(N)
                  .quantizeNode(List.of("mm_b", "mm_a", "mm_b"))
                  .nonQuantizeNode(List.of("mm_b", "add")));
      assertEquals(2, r.plots().size(), "both parameters: two figures");
      AccumulatedError.Plot q = r.plot("quantize_node_accumulate_err_of_node");
      assertEquals(List.of("mm_b", "mm_a"), q.curves(), "de-duplicated, order kept");
      Metric cos = Metric.COSINE_SIMILARITY;
      assertCurve(expected(TwoBranch.calibrationsOf("mm_b"), cos), q.curve("mm_b"), "mm_b alone");
      assertCurve(expected(TwoBranch.calibrationsOf("mm_a"), cos), q.curve("mm_a"), "mm_a alone");
      AccumulatedError.Plot nq = r.plot("non_quantize_node_accumulate_err_of_node");
      assertEquals(List.of("mm_b", "add"), nq.curves());
      assertCurve(expected(List.of("Wa", "a", "b"), cos), nq.curve("mm_b"), "all but x and Wb");
      assertCurve(expected(List.of("x", "Wa", "Wb"), cos), nq.curve("add"), "all but a and b");
    }
  }

  @Test
  void nestedListsGivePartialModels() throws Exception {
    try (Debugger dbg = debugger()) {
      var r =
          dbg.plotAccError(
              AccumulatedError.Options.defaults()
                  .dataNum(N)
                  .quantizeNodeGroups(List.of(List.of("mm_a"), List.of("mm_a", "add")))
                  .nonQuantizeNodeGroups(List.of(List.of("mm_b"), List.of("mm_a", "mm_b"))));
      Metric cos = Metric.COSINE_SIMILARITY;
      AccumulatedError.Plot q = r.plot("quantize_node_accumulate_err_of_partial_qmodel");
      assertEquals(List.of("default calibrated model", "partial_qmodel_0", "partial_qmodel_1"), q.curves());
      assertCurve(expected(TwoBranch.all(), cos), q.curve("default calibrated model"), "calibrated");
      assertCurve(expected(List.of("x", "Wa"), cos), q.curve("partial_qmodel_0"), "mm_a");
      assertCurve(expected(List.of("x", "Wa", "a", "b"), cos), q.curve("partial_qmodel_1"), "mm_a+add");
      AccumulatedError.Plot nq = r.plot("non_quantize_node_accumulate_err_of_partial_qmodel");
      double[] both = nq.curve("partial_qmodel_1");
      assertEquals(1.0, both[0], 1e-12, "a is exactly float with x, Wa, Wb in float");
      assertEquals(1.0, both[1], 1e-12, "and so is b (compared before its own quantization)");
      assertCurve(expected(List.of("a", "b"), cos), both, "only a and b quantized");
      r.save(tmp.resolve("nested"));
      Path csv = tmp.resolve("nested/non_quantize_node_accumulate_err_of_partial_qmodel_cosine-similarity.csv");
      List<String> lines = Files.readAllLines(csv);
      assertEquals("index,node,tensor,default calibrated model,partial_qmodel_0,partial_qmodel_1", lines.get(0));
      assertEquals(4, lines.size());
      assertTrue(lines.get(2).startsWith("1,mm_b,b,"), lines.get(2));
      assertTrue(Files.exists(tmp.resolve("nested/quantize_node_accumulate_err_of_partial_qmodel_cosine-similarity.html")));
    }
  }

  @Test
  void infPointsKeepTheirPositionAndAverageModeIsAPrefixMean() throws Exception {
    try (Debugger dbg = debugger()) {
      var o = AccumulatedError.Options.defaults().dataNum(N).metric(Metric.SQNR).quantizeNode(List.of("Wb_HzCalibration"));
      double[] y = dbg.plotAccError(o).plot("quantize_node_accumulate_err_of_node").curve("Wb_HzCalibration");
      assertEquals(Double.POSITIVE_INFINITY, y[0], "a is untouched: sqnr is inf and stays at x = 0");
      assertEquals(0.0, y[1], 1e-12, "b quantized to 0: 10 log10(|b| / |b - 0|) = 0, at x = 1");
      assertEquals(expected(List.of("Wb"), Metric.SQNR)[2], y[2], 1e-4);
      var avg = dbg.plotAccError(o.averageMode(true));
      AccumulatedError.Plot p = avg.plot("quantize_node_accumulate_err_of_node");
      assertEquals("average_quantize_node_accumulate_err_of_node_sqnr", p.fileStem());
      double[] a = p.curve("Wb_HzCalibration");
      assertTrue(Double.isNaN(a[0]), "no finite value yet");
      assertEquals(0.0, a[1], 1e-12);
      assertEquals(y[2] / 2, a[2], 1e-12, "mean of 0 and y[2]; the inf is skipped");
      avg.save(tmp.resolve("avg"));
      List<String> lines = Files.readAllLines(tmp.resolve("avg/" + p.fileStem() + ".csv"));
      assertEquals(4, lines.size(), "every point keeps its row");
      dbg.plotAccError(o).save(tmp.resolve("raw"));
      List<String> raw = Files.readAllLines(tmp.resolve("raw/quantize_node_accumulate_err_of_node_sqnr.csv"));
      assertEquals("0,mm_a,a,inf", raw.get(1));
    }
  }

  @Test
  void prefixMeanByHand() {
    double[] got = AccumulatedError.prefixMean(new double[] {1.0, 0.9, 0.9, 0.8});
    assertArrayEquals(new double[] {1.0, 0.95, 2.8 / 3, 0.9}, got, 1e-12, "Horizon's doc example");
    got = AccumulatedError.prefixMean(new double[] {Double.POSITIVE_INFINITY, 0.5, Double.NaN, 1.0});
    assertTrue(Double.isNaN(got[0]));
    assertArrayEquals(new double[] {0.5, 0.5, 0.75}, new double[] {got[1], got[2], got[3]}, 1e-12);
  }

  @Test
  void moreSamplesAverageThePerSampleMetric() {
    try (Debugger dbg = debugger()) {
      var o = AccumulatedError.Options.defaults().quantizeNode(List.of("mm_a"));
      double[] one = dbg.plotAccError(o).plots().get(0).curve("mm_a");
      Map<String, float[][]> f = net.forward(new float[][] {net.calibrationX[0]}, List.of());
      Map<String, float[][]> q = net.forward(new float[][] {net.calibrationX[0]}, List.of("x", "Wa"));
      assertEquals(TwoBranch.cosine(f.get("a")[0], q.get("a")[0]), one[0], 1e-6, "default: the first sample");
      List<Double> perSample = new ArrayList<>();
      for (int i = 0; i < N; i++) {
        var fi = net.forward(new float[][] {net.calibrationX[i]}, List.of());
        var qi = net.forward(new float[][] {net.calibrationX[i]}, List.of("x", "Wa"));
        perSample.add(TwoBranch.cosine(fi.get("a")[0], qi.get("a")[0]));
      }
      double mean = perSample.stream().mapToDouble(d -> d).average().orElseThrow();
      assertEquals(mean, dbg.plotAccError(o.dataNum(0)).plots().get(0).curve("mm_a")[0], 1e-6);
    }
  }

  @Test
  void badRequestsNameTheOptionOrNode() {
    try (Debugger dbg = debugger()) {
      var o = AccumulatedError.Options.defaults();
      var e = assertThrows(UsageException.class, () -> dbg.plotAccError(o.quantizeNode(List.of())));
      assertTrue(e.getMessage().contains("--quantize-node"), e.getMessage());
      e = assertThrows(UsageException.class,
          () -> dbg.plotAccError(o.quantizeNode(List.of()).nonQuantizeNode(List.of("weight"))));
      assertTrue(e.getMessage().contains("--non-quantize-node"), e.getMessage());
      e = assertThrows(UsageException.class, () -> dbg.plotAccError(o.quantizeNode(List.of("relu"))));
      assertTrue(e.getMessage().contains("'relu'") && e.getMessage().contains("no calibration node"), e.getMessage());
      var m = assertThrows(ModelException.class, () -> dbg.plotAccError(o.quantizeNode(List.of("mm_c"))));
      assertTrue(m.getMessage().contains("'mm_c'") && m.getMessage().contains("mm_a"), m.getMessage());
      e = assertThrows(UsageException.class, () -> dbg.plotAccError(o.dataNum(N + 1)));
      assertTrue(e.getMessage().contains("--data-num"), e.getMessage());
    }
  }
}
