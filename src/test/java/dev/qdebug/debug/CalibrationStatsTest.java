package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Progress;
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

/** The stat table of a hand-built graph against parameters and extremes worked out by hand. */
class CalibrationStatsTest {
  @TempDir Path tmp;

  // columns: [0.5, -0.25, 0, 2], [0, 0, 0, 0], [-3, 0.125, 1, -0.5]
  static final float[] W = {0.5f, 0, -3, -0.25f, 0, 0.125f, 0, 0, 1, 2, 0, -0.5f};
  static final float[] W_SCALE = {2 / 127f, 1f, 3 / 127f};
  static final float[] Y_SCALE = {0.1f, 0.2f, 0.3f};

  OnnxModel model = Fixture.matmulRelu(W);

  CalibratedModel calibrated() {
    List<CalibrationNode> nodes =
        List.of(
            CalibrationNode.of(
                "x", TensorKind.ACTIVATION, QParams.perTensor(0.125f, 0, QType.INT8), true, "test"),
            CalibrationNode.of(
                "W",
                TensorKind.WEIGHT,
                new QParams(W_SCALE, new long[3], 1, QType.INT8),
                true,
                "test"),
            CalibrationNode.of(
                "y",
                TensorKind.ACTIVATION,
                new QParams(Y_SCALE, new long[] {10, 20, 30}, 1, QType.UINT8),
                false,
                "test"));
    return new CalibratedModel(
        model, nodes, List.of("x_HzCalibration", "W_HzCalibration", "y_HzCalibration"));
  }

  @Test
  void parametersAndExtremesPerNode() throws Exception {
    SampleSet data = Fixture.data(tmp.resolve("d"), model, DistributionTest.X);
    try (CalibratedModel cal = calibrated()) {
      CalibrationStats.Result r =
          CalibrationStats.run(cal, data, CalibrationStats.Options.defaults(), Progress.NONE);
      assertEquals(
          List.of("x_HzCalibration", "W_HzCalibration", "y_HzCalibration"),
          r.table().stringColumn("node").asList());

      CalibrationStats.NodeStats w = r.of("W_HzCalibration");
      assertEquals("weight", w.type());
      assertEquals("per-channel", w.granularity());
      assertEquals("int8", w.qtype());
      assertEquals(1, w.axis());
      assertArrayEquals(W_SCALE, w.scales());
      // int8 with zero point 0 represents [-128 s, 127 s]
      assertArrayEquals(new float[] {256 / 127f, 128f, 384 / 127f}, w.thresholds(), 1e-6f);
      assertArrayEquals(new double[] {2, 0, 3}, w.maxVals(), 0);
      assertArrayEquals(new double[] {0.25, 0, 0.125}, w.minNzVals(), 0); // an all-zero channel: 0
      // over channels, as the figures and the command's table show them
      assertEquals(128, w.maxThreshold(), 1e-5);
      assertEquals(1, w.maxScale(), 0);
      assertEquals(3, w.maxVal(), 0);
      assertEquals(0.125, w.minNonZero(), 0);

      CalibrationStats.NodeStats x = r.of("x_HzCalibration");
      assertEquals("activation", x.type());
      assertEquals("per-tensor", x.granularity());
      assertEquals(-1, x.axis());
      assertArrayEquals(new float[] {16}, x.thresholds(), 0);
      // over the three samples: largest |x| 35/16, smallest non-zero |x| 4/16 (one sample has a 0)
      assertArrayEquals(new double[] {35 / 16.0}, x.maxVals(), 0);
      assertArrayEquals(new double[] {4 / 16.0}, x.minNzVals(), 0);

      // y: per-channel activation, measured in the FLOAT model (x and W not quantized)
      CalibrationStats.NodeStats y = r.of("y_HzCalibration");
      assertEquals("uint8", y.qtype());
      assertArrayEquals(new long[] {10, 20, 30}, y.zeroPoints());
      assertArrayEquals(new float[] {24.5f, 47f, 67.5f}, y.thresholds(), 1e-4f);
      double[] max = new double[3];
      double[] minNz = {Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE};
      for (float[] s : DistributionTest.X) {
        float[] v = Fixture.matvec(s, W);
        for (int c = 0; c < 3; c++) {
          max[c] = Math.max(max[c], Math.abs(v[c]));
          if (v[c] != 0) {
            minNz[c] = Math.min(minNz[c], Math.abs(v[c]));
          }
        }
      }
      minNz[1] = 0;
      assertArrayEquals(max, y.maxVals(), 0);
      assertArrayEquals(minNz, y.minNzVals(), 0);

      Path out = tmp.resolve("out");
      r.save(out);
      String csv = Files.readString(out.resolve("cali_nodes_stat_info.csv"));
      assertTrue(
          csv.startsWith(
              "node,tensor,type,granularity,qtype,axis,thresholds,scales,zero-points,max-vals,min-nz-vals\n"),
          csv);
      assertTrue(csv.contains("W_HzCalibration,W,weight,per-channel,int8,1,"), csv);
      String json = Files.readString(out.resolve("cali_nodes_stat_info.json"));
      assertTrue(
          json.contains("\"W_HzCalibration\": {")
              && json.contains("\"max-vals\": [2, 0, 3]")
              && json.contains("\"min-nz-vals\": [0.25, 0, 0.125]"),
          json);
      for (String f : List.of("weight_stat_info.html", "feature_stat_info.html")) {
        String page = Files.readString(out.resolve(f));
        assertTrue(
            page.contains("log") && page.contains("threshold") && page.contains("node index"), f);
      }
    }
  }

  @Test
  void aSubsetOfNodesAndSamples() {
    SampleSet data = Fixture.data(tmp.resolve("d"), model, DistributionTest.X);
    try (CalibratedModel cal = calibrated()) {
      CalibrationStats.Result r =
          CalibrationStats.run(
              cal,
              data,
              CalibrationStats.Options.defaults().nodes(List.of("x_HzCalibration")).dataNum(1),
              Progress.NONE);
      Table t = r.table();
      assertEquals(1, t.rowCount());
      // the first sample only: 19/16 and 5/16
      assertArrayEquals(new double[] {19 / 16.0}, r.of("x_HzCalibration").maxVals(), 0);
      assertArrayEquals(new double[] {5 / 16.0}, r.of("x_HzCalibration").minNzVals(), 0);
    }
  }
}
