package dev.qdebug.debug;

import static dev.qdebug.debug.Fixture.fq;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Progress;
import dev.qdebug.QdebugException;
import dev.qdebug.data.SampleSet;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.QParams;
import dev.qdebug.quant.QType;
import dev.qdebug.quant.TensorKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tech.tablesaw.api.Table;

/**
 * Histograms on a hand-built MatMul + Relu graph whose every value the test computes itself: the
 * data of each kind of plot, bin counts by brute force over the bins, zeros left out, the threshold
 * from known parameters, the cosine similarities, Horizon's file names.
 */
class DistributionTest {
  @TempDir Path tmp;

  // dyadic values: every product and sum is exact in float32, in any order
  static final float[] W = {
    40 / 128f,
    -15 / 128f,
    218 / 128f,
    -56 / 128f,
    6 / 128f,
    -294 / 128f,
    0,
    35 / 128f,
    115 / 128f,
    106 / 128f,
    -77 / 128f,
    51 / 128f
  };
  static final float[][] X = {
    {8 / 16f, -19 / 16f, 13 / 16f, 5 / 16f},
    {-11 / 16f, 4 / 16f, 30 / 16f, -7 / 16f},
    {16 / 16f, 0, -5 / 16f, 35 / 16f}
  };
  static final float[] W_SCALE = {1 / 32f, 1 / 64f, 1 / 16f};
  static final float X_SCALE = 0.125f;
  static final float Y_SCALE = 0.125f;

  OnnxModel model = Fixture.matmulRelu(W);

  CalibratedModel calibrated() {
    List<CalibrationNode> nodes =
        List.of(
            CalibrationNode.of(
                "x",
                TensorKind.ACTIVATION,
                QParams.perTensor(X_SCALE, 0, QType.INT8),
                true,
                "test"),
            CalibrationNode.of(
                "W",
                TensorKind.WEIGHT,
                new QParams(W_SCALE, new long[3], 1, QType.INT8),
                true,
                "test"),
            CalibrationNode.of(
                "y",
                TensorKind.ACTIVATION,
                QParams.perTensor(Y_SCALE, 10, QType.UINT8),
                false,
                "test"));
    return new CalibratedModel(
        model, nodes, List.of("x_HzCalibration", "W_HzCalibration", "y_HzCalibration"));
  }

  static float[] fqW() {
    float[] q = new float[W.length];
    for (int i = 0; i < W.length; i++) {
      q[i] = fq(W[i], W_SCALE[i % 3], 0, QType.INT8);
    }
    return q;
  }

  /** y as the calibrated model computes it, before y's own calibration node. */
  static float[] yCalibrated(float[] x) {
    float[] xq = new float[4];
    for (int k = 0; k < 4; k++) {
      xq[k] = fq(x[k], X_SCALE, 0, QType.INT8);
    }
    return Fixture.matvec(xq, fqW());
  }

  static float[] zCalibrated(float[] x) {
    float[] y = yCalibrated(x);
    for (int j = 0; j < 3; j++) {
      y[j] = fq(y[j], Y_SCALE, 10, QType.UINT8);
    }
    return Fixture.relu(y);
  }

  /** Checks one series of a histogram table against values computed here. */
  static void assertHistogram(Table hist, String series, float[] values, boolean skipZeros) {
    Table s = hist.where(hist.stringColumn("series").isEqualTo(series));
    assertEquals(Distribution.BINS, s.rowCount(), series);
    double[] left = s.doubleColumn("bin-left").asDoubleArray();
    double[] right = s.doubleColumn("bin-right").asDoubleArray();
    long[] counts = s.longColumn("count").asLongArray();
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    int n = 0;
    for (float v : values) {
      if (!(skipZeros && v == 0)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        n++;
      }
    }
    assertEquals(lo, left[0], 1e-6, series + " first edge = smallest value");
    assertEquals(hi, right[right.length - 1], 1e-6, series + " last edge = largest value");
    double width = (hi - lo) / Distribution.BINS;
    long total = 0;
    for (int i = 0; i < counts.length; i++) {
      assertEquals(
          width, right[i] - left[i], 1e-9 * Math.max(1, Math.abs(hi)), series + " bin width");
      long expect = 0;
      for (float v : values) {
        boolean last = i == counts.length - 1;
        if (!(skipZeros && v == 0) && v >= left[i] && (v < right[i] || (last && v <= right[i]))) {
          expect++;
        }
      }
      assertEquals(expect, counts[i], series + " bin " + i);
      total += counts[i];
    }
    assertEquals(n, total, series + " total (zeros " + (skipZeros ? "left out" : "kept") + ")");
  }

  static double summary(Distribution.Result r, String file, String series, String column) {
    Table t = r.summary();
    Table row =
        t.where(
            t.stringColumn("file").isEqualTo(file).and(t.stringColumn("series").isEqualTo(series)));
    assertEquals(1, row.rowCount(), file + " / " + series);
    return row.numberColumn(column).getDouble(0);
  }

  @Test
  void everyKindOfPlotHasTheValuesComputedByHand() {
    SampleSet data = Fixture.data(tmp.resolve("d"), model, X);
    try (CalibratedModel cal = calibrated()) {
      Distribution.Result r =
          Distribution.run(
              cal,
              data,
              Distribution.Options.defaults()
                  .nodes(List.of("y_HzCalibration", "W_HzCalibration", "blk/relu")),
              Progress.NONE);
      assertEquals(
          List.of(
              "activation_y_HzCalibration",
              "weight_W_HzCalibration",
              "node_output_blk_z_of_blk_relu"),
          r.plots().stream().map(Distribution.Plot::file).toList());

      // activation: y in the calibrated model (x and W quantized), one sample
      float[] y = yCalibrated(X[0]);
      Distribution.Plot act = r.plot("activation_y_HzCalibration");
      assertEquals("activation", act.kind());
      assertEquals("y", act.tensor());
      assertHistogram(act.histogram(), "input data distribution", y, true);
      // uint8, zero point 10, scale 1/8 represents [-1.25, 30.625]
      assertEquals(30.625, summary(r, act.file(), "input data distribution", "threshold"), 1e-5);
      double maxAbs = 0;
      for (float v : y) {
        maxAbs = Math.max(maxAbs, Math.abs(v));
      }
      assertEquals(maxAbs, summary(r, act.file(), "input data distribution", "max-abs"), 1e-5);

      // weight: float vs fake-quantized, zeros left out (W has one zero)
      Distribution.Plot w = r.plot("weight_W_HzCalibration");
      assertHistogram(w.histogram(), "before calibration", W, true);
      assertHistogram(w.histogram(), "after calibration", fqW(), true);
      assertEquals(11, summary(r, w.file(), "before calibration", "values"));
      assertEquals(
          Fixture.cosine(W, fqW()),
          summary(r, w.file(), "before calibration", "cosine-similarity"),
          1e-9);

      // normal node: float vs fully calibrated output and their difference (zeros kept)
      float[] zf = Fixture.relu(Fixture.matvec(X[0], W));
      float[] zq = zCalibrated(X[0]);
      float[] err = new float[3];
      for (int j = 0; j < 3; j++) {
        err[j] = zf[j] - zq[j];
      }
      Distribution.Plot node = r.plot("node_output_blk_z_of_blk_relu");
      assertEquals("blk/z", node.tensor());
      assertHistogram(node.histogram(), "before calibration", zf, true);
      assertHistogram(node.histogram(), "after calibration", zq, true);
      assertHistogram(node.histogram(), "quantization error distribution", err, false);
      assertEquals(3, summary(r, node.file(), "quantization error distribution", "values"));
      assertEquals(
          Fixture.cosine(zf, zq),
          summary(r, node.file(), "after calibration", "cosine-similarity"),
          1e-6);
    }
  }

  @Test
  void dataNumPoolsSamples() {
    SampleSet data = Fixture.data(tmp.resolve("d"), model, X);
    try (CalibratedModel cal = calibrated()) {
      Distribution.Result r =
          Distribution.run(
              cal,
              data,
              Distribution.Options.defaults()
                  .nodes(List.of("y_HzCalibration", "x_HzCalibration"))
                  .dataNum(3),
              Progress.NONE);
      float[] y = Fixture.concat(yCalibrated(X[0]), yCalibrated(X[1]), yCalibrated(X[2]));
      assertHistogram(
          r.plot("activation_y_HzCalibration").histogram(), "input data distribution", y, true);
      // x is the graph input: the input of its calibration node is the data itself (one zero)
      float[] x = Fixture.concat(X[0], X[1], X[2]);
      assertHistogram(
          r.plot("activation_x_HzCalibration").histogram(), "input data distribution", x, true);
      assertEquals(
          11, summary(r, "activation_x_HzCalibration", "input data distribution", "values"));
      // x: int8 scale 1/8 represents [-16, 15.875]
      assertEquals(
          16,
          summary(r, "activation_x_HzCalibration", "input data distribution", "threshold"),
          1e-5);
    }
  }

  @Test
  void savesHorizonFileNamesWithSlashesReplaced() throws Exception {
    SampleSet data = Fixture.data(tmp.resolve("d"), model, X);
    try (CalibratedModel cal = calibrated()) {
      Distribution.Result r =
          Distribution.run(
              cal,
              data,
              Distribution.Options.defaults().nodes(List.of("blk/relu", "W_HzCalibration")),
              Progress.NONE);
      Path out = tmp.resolve("out");
      r.save(out);
      for (String f : List.of("node_output_blk_z_of_blk_relu", "weight_W_HzCalibration")) {
        assertTrue(Files.exists(out.resolve(f + ".html")), f);
        String csv = Files.readString(out.resolve(f + ".csv"));
        assertTrue(csv.startsWith("series,bin-left,bin-right,count\n"), csv.substring(0, 40));
      }
      String page = Files.readString(out.resolve("weight_W_HzCalibration.html"));
      assertTrue(page.contains("before calibration") && page.contains("count per bin"), "labels");
      assertTrue(page.contains("values (zeros left out)") && page.contains(" bins"), "the sample count on the plot");
      assertTrue(
          Files.readString(out.resolve("distribution_summary.csv"))
              .startsWith("file,node,kind,tensor,series"));
    }
  }

  @Test
  void unknownNamesFailWithTheClosest() {
    SampleSet data = Fixture.data(tmp.resolve("d"), model, X);
    try (CalibratedModel cal = calibrated()) {
      QdebugException e =
          assertThrows(
              QdebugException.class,
              () ->
                  Distribution.run(
                      cal,
                      data,
                      Distribution.Options.defaults().nodes(List.of("blk/relx")),
                      Progress.NONE));
      assertTrue(
          e.getMessage().contains("'blk/relx'") && e.getMessage().contains("blk/relu"),
          e.getMessage());
      e =
          assertThrows(
              QdebugException.class,
              () -> Distribution.run(cal, data, Distribution.Options.defaults(), Progress.NONE));
      assertTrue(e.getMessage().contains("--nodes"), e.getMessage());
      e =
          assertThrows(
              QdebugException.class,
              () ->
                  Distribution.run(
                      cal,
                      data,
                      Distribution.Options.defaults().nodes(List.of("mm")).dataNum(4),
                      Progress.NONE));
      assertTrue(e.getMessage().contains("--data-num"), e.getMessage());
    }
  }
}
