package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.DataException;
import dev.qdebug.Ort;
import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.Calibrator;
import dev.qdebug.quant.QType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The automatic search: on the two-branch net it must leave exactly mm_b in float (accuracy by
 * brute force over every k with the plain-Java net, the written model checked in ONNX Runtime);
 * on a random-weight RepVGG-like net its k must be the boundary that a brute-force sweep of every
 * k finds.
 */
class AutoPartialQuantizationTest {
  @TempDir static Path tmp;
  static TwoBranch net;

  @BeforeAll
  static void setUp() {
    net = TwoBranch.write(tmp, 8, 80);
  }

  static double accuracy(List<String> on) {
    float[][] out = net.forward(net.labeledX, on).get("out");
    int ok = 0;
    for (int i = 0; i < out.length; i++) {
      ok += TwoBranch.argmax(out[i]) == net.labels[i] ? 1 : 0;
    }
    return (double) ok / out.length;
  }

  static List<String> floatFirst(List<String> ranking, int k) {
    List<String> on = new ArrayList<>(TwoBranch.all());
    on.removeAll(TwoBranch.calibrationsOf(ranking.subList(0, k).toArray(String[]::new)));
    return on;
  }

  @Test
  void leavesExactlyTheBadBranchInFloat() throws Exception {
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      AutoPartialQuantization.Result r =
          dbg.autoPartialQuantization(AutoPartialQuantization.Options.defaults().dataset(net.labeled));
      assertEquals("mm_b", r.ranking().get(0));
      assertEquals(3, r.ranking().size());
      // brute force over every k, with the independent implementation
      double[] brute = new double[4];
      int minK = -1;
      for (int k = 0; k <= 3; k++) {
        brute[k] = accuracy(floatFirst(r.ranking(), k));
        if (minK < 0 && brute[k] >= 0.99) {
          minK = k;
        }
      }
      assertEquals(1.0, r.floatAccuracy(), "labels are the float model's decisions");
      assertTrue(brute[0] < 0.8, "the calibrated model is poor: " + brute[0]);
      assertEquals(1, minK, "by construction");
      assertEquals(minK, r.k());
      assertTrue(r.reached() && r.monotone());
      assertEquals(List.of("mm_b"), r.chosenNodes());
      for (var e : r.values().entrySet()) {
        assertEquals(brute[e.getKey()], e.getValue(), 1e-12, "k = " + e.getKey());
      }
      assertTrue(r.values().containsKey(0) && r.values().containsKey(1), "k and k - 1 evaluated");
      assertEquals(
          List.of("model", "strategy", "float-accuracy", "calibration-method", "quantized-accuracy", "percent-of-float"),
          r.summary().columnNames());
      assertEquals(2, r.summary().rowCount(), "calibrated and k = 1");
      assertEquals(100 * brute[1], r.summary().doubleColumn("percent-of-float").get(1), 1e-9);
      assertEquals("loaded", r.summary().stringColumn("calibration-method").get(0), "a QDQ file keeps no method");

      r.save(tmp.resolve("auto"));
      Path written = tmp.resolve("auto/partial_quantized_model.onnx");
      try (CalibratedModel m = CalibratedModel.load(written)) {
        assertEquals(Set.of("Wa_HzCalibration", "a_HzCalibration", "b_HzCalibration"), m.enabled());
      }
      INDArray x = Nd4j.createFromArray(net.labeledX);
      INDArray out = Ort.run(OnnxModel.load(written).proto(), Map.of("x", x), List.of("out")).get("out");
      float[][] o = out.toFloatMatrix();
      int ok = 0;
      for (int i = 0; i < o.length; i++) {
        ok += TwoBranch.argmax(o[i]) == net.labels[i] ? 1 : 0;
      }
      assertEquals(brute[1], (double) ok / o.length, 1e-12, "ONNX Runtime runs the written model as evaluated");
    }
  }

  @Test
  void int16RaisesTheNodeInstead() throws Exception {
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      AutoPartialQuantization.Result r =
          dbg.autoPartialQuantization(
              AutoPartialQuantization.Options.defaults()
                  .dataset(net.labeled)
                  .restore(AutoPartialQuantization.Restore.INT16));
      assertEquals(1, r.k());
      assertEquals(List.of("mm_b"), r.chosenNodes());
      assertTrue(r.values().get(1) >= 0.99, "int16 Wb resolves |w| <= 3 well: " + r.values());
      Path file = tmp.resolve("int16.onnx");
      r.saveModel(file);
      try (CalibratedModel m = CalibratedModel.load(file)) {
        assertEquals(new LinkedHashSet<>(TwoBranch.all()), new LinkedHashSet<>(m.enabled()), "everything stays quantized");
        for (CalibrationNode c : m.nodes()) {
          boolean raised = c.name().equals("x_HzCalibration") || c.name().equals("Wb_HzCalibration");
          assertEquals(raised ? QType.INT16 : QType.INT8, c.params().type(), c.name());
        }
      }
      assertEquals(QType.INT8, dbg.model().node("Wb_HzCalibration").params().type(), "the analysed model is not changed");
      // not reachable: an output cosine of exactly 1 with every node int16
      AutoPartialQuantization.Result none =
          dbg.autoPartialQuantization(
              AutoPartialQuantization.Options.defaults()
                  .target(1.0)
                  .restore(AutoPartialQuantization.Restore.INT16));
      assertFalse(none.reached());
      assertEquals(3, none.k());
    }
  }

  @Test
  void badTargetOrDatasetIsNamed() {
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      var o = AutoPartialQuantization.Options.defaults();
      var e = assertThrows(UsageException.class, () -> dbg.autoPartialQuantization(o.dataset(net.labeled).target(99)));
      assertTrue(e.getMessage().contains("--target"), e.getMessage());
      var d = assertThrows(DataException.class, () -> dbg.autoPartialQuantization(o.dataset(net.calibration)));
      assertTrue(d.getMessage().contains("labels.npy"), d.getMessage());
      AutoPartialQuantization.Result easy = dbg.autoPartialQuantization(o.dataset(net.labeled).target(0.1));
      assertEquals(0, easy.k(), "the calibrated model already meets it");
      assertEquals(1, easy.summary().rowCount());
    }
  }

  /** Output cosine by full runs (no rerun), mean over samples, plain cosine. */
  static double fullRunCosine(CalibratedModel cal, Map<String, INDArray> batch, int n, Set<String> on) {
    String o = cal.floatModel().outputs().get(0).name();
    float[][] f = cal.run(batch, Set.of(), RunOptions.defaults()).get(o).reshape(n, -1).toFloatMatrix();
    float[][] q = cal.run(batch, on, RunOptions.defaults()).get(o).reshape(n, -1).toFloatMatrix();
    double s = 0;
    for (int i = 0; i < n; i++) {
      s += TwoBranch.cosine(f[i], q[i]);
    }
    return s / n;
  }

  @Test
  void bisectionFindsTheBoundaryThatBruteForceFinds() throws Exception {
    OnnxModel model =
        OnnxModel.load(Path.of(getClass().getResource("/models/repvgg_like_op13.onnx").toURI()));
    int n = 6;
    Nd4j.getRandom().setSeed(9);
    for (int i = 0; i < n; i++) {
      Npy.write(tmp.resolve("rv/input/" + i + ".npy"), Nd4j.randn(DataType.FLOAT, 1, 3, 32, 32));
    }
    SampleSet data = SampleSet.open(tmp.resolve("rv"), model.inputs());
    try (CalibratedModel cal =
            Calibrator.calibrate(
                model, data, Calibrator.Options.defaults().method(CalibrationMethod.MAX), Progress.NONE);
        Debugger dbg = Debugger.of(cal, data)) {
      List<String> ranking =
          NodeSensitivity.run(cal, data, NodeSensitivity.Options.defaults().dataNum(0), Progress.NONE).ranking();
      int kmax = ranking.size();
      assertTrue(kmax >= 8, "nodes: " + ranking);
      Map<String, INDArray> batch = data.batch(0, n);
      double[] v = new double[kmax + 1];
      Set<String> off = new LinkedHashSet<>();
      for (int k = 0; k <= kmax; k++) {
        if (k > 0) {
          cal.calibrationsOf(ranking.get(k - 1)).forEach(c -> off.add(c.name()));
        }
        Set<String> on = new LinkedHashSet<>(cal.enabled());
        on.removeAll(off);
        v[k] = fullRunCosine(cal, batch, n, on);
      }
      for (int j : new int[] {kmax / 3, kmax / 2, 2 * kmax / 3}) {
        double target = v[j] - 1e-9;
        int minK = -1;
        boolean monotone = true;
        for (int k = 0; k <= kmax; k++) {
          if (v[k] >= target && minK < 0) {
            minK = k;
          }
          monotone &= !(minK >= 0 && v[k] < target);
        }
        var o = AutoPartialQuantization.Options.defaults().target(target);
        AutoPartialQuantization.Result bisect = dbg.autoPartialQuantization(o);
        assertEquals(ranking, bisect.ranking());
        int k = bisect.k();
        assertTrue(v[k] >= target && (k == 0 || v[k - 1] < target),
            "bisection ends on a boundary of the brute-force curve: k = " + k + ", " + java.util.Arrays.toString(v));
        assertTrue(bisect.values().size() <= 2 + 2 * (int) Math.ceil(Math.log(k) / Math.log(2)),
            "galloping then bisecting: about 2 log2(k) evaluations: " + bisect.values().keySet());
        assertTrue(bisect.values().keySet().stream().allMatch(e -> e <= 2 * k),
            "never beyond twice the answer: " + bisect.values().keySet());
        if (monotone) {
          assertEquals(minK, k, "monotone: the smallest k");
        }
        AutoPartialQuantization.Result all = dbg.autoPartialQuantization(o.exhaustive(true));
        assertEquals(kmax + 1, all.values().size());
        for (int i = 0; i <= kmax; i++) {
          assertEquals(v[i], all.values().get(i), 1e-9, "k = " + i);
        }
        assertEquals(minK, all.k());
        assertEquals(monotone, all.monotone());
      }
    }
  }
}
