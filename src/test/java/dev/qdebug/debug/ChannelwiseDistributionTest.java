package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tech.tablesaw.api.Table;

/** Per-channel box statistics against quartiles worked out by hand on tiny tensors. */
class ChannelwiseDistributionTest {
  @TempDir Path tmp;

  // columns (channels on axis 1): [1, 2, 3, 4], [0, 0, 0, 100], [-8, 1, 2, 3]
  static final float[] W = {1, 0, -8, 2, 0, 1, 3, 0, 2, 4, 100, 3};

  OnnxModel model = Fixture.matmulRelu(W);

  CalibratedModel calibrated(boolean perChannelWeight) {
    QParams w =
        perChannelWeight
            ? new QParams(new float[] {0.05f, 1f, 0.1f}, new long[3], 1, QType.INT8)
            : QParams.perTensor(1f, 0, QType.INT8);
    List<CalibrationNode> nodes =
        List.of(
            CalibrationNode.of(
                "x", TensorKind.ACTIVATION, QParams.perTensor(0.125f, 0, QType.INT8), true, "test"),
            CalibrationNode.of("W", TensorKind.WEIGHT, w, true, "test"),
            CalibrationNode.of(
                "y", TensorKind.ACTIVATION, QParams.perTensor(1f, 0, QType.INT8), true, "test"));
    return new CalibratedModel(
        model, nodes, List.of("x_HzCalibration", "W_HzCalibration", "y_HzCalibration"));
  }

  SampleSet data() {
    return Fixture.data(tmp.resolve("d"), model, DistributionTest.X);
  }

  static double[] col(Table t, String c) {
    return t.numberColumn(c).asDoubleArray();
  }

  @Test
  void weightBoxesOnItsQuantizationAxis() {
    try (CalibratedModel cal = calibrated(true)) {
      ChannelwiseDistribution.Result r =
          ChannelwiseDistribution.run(
              cal,
              data(),
              ChannelwiseDistribution.Options.defaults().nodes(List.of("W_HzCalibration")),
              Progress.NONE);
      ChannelwiseDistribution.Boxes b = r.of("W_HzCalibration");
      assertEquals(1, b.axis());
      Table t = b.stats();
      double e = 1e-12;
      assertArrayEquals(new double[] {0, 1, 2}, col(t, "channel"), e);
      assertArrayEquals(new double[] {4, 4, 4}, col(t, "count"), e);
      assertArrayEquals(new double[] {1, 0, -8}, col(t, "min"), e);
      assertArrayEquals(new double[] {1.75, 0, -1.25}, col(t, "q1"), e);
      assertArrayEquals(new double[] {2.5, 0, 1.5}, col(t, "median"), e);
      assertArrayEquals(new double[] {2.5, 25, -0.5}, col(t, "mean"), e);
      assertArrayEquals(new double[] {3.25, 25, 2.25}, col(t, "q3"), e);
      assertArrayEquals(new double[] {4, 100, 3}, col(t, "max"), e);
      // whiskers at the furthest value within 1.5 IQR, never inside the box
      assertArrayEquals(new double[] {1, 0, -1.25}, col(t, "lower-whisker"), e);
      assertArrayEquals(new double[] {4, 25, 3}, col(t, "upper-whisker"), e);
      assertArrayEquals(new double[] {0, 1, 1}, col(t, "outliers"), e);
    }
  }

  @Test
  void axisOverrideAndPerTensorWeightDefault() {
    try (CalibratedModel cal = calibrated(false)) {
      var o = ChannelwiseDistribution.Options.defaults().nodes(List.of("W_HzCalibration"));
      // per-tensor weight: the axis calibration would use per channel (MatMul: the last)
      assertEquals(
          1,
          ChannelwiseDistribution.run(cal, data(), o, Progress.NONE).of("W_HzCalibration").axis());
      Table t =
          ChannelwiseDistribution.run(cal, data(), o.axis(0), Progress.NONE)
              .of("W_HzCalibration")
              .stats();
      assertEquals(4, t.rowCount());
      // row 3 = [4, 100, 3]
      assertEquals(3.5, col(t, "q1")[3], 1e-12);
      assertEquals(4, col(t, "median")[3], 1e-12);
      assertEquals(52, col(t, "q3")[3], 1e-12);
      assertEquals(107 / 3.0, col(t, "mean")[3], 1e-12);
      assertEquals(
          t.rowCount(),
          ChannelwiseDistribution.run(cal, data(), o.axis(-2), Progress.NONE)
              .of("W_HzCalibration")
              .stats()
              .rowCount());
    }
  }

  @Test
  void activationChannelsOnAxisOnePooledOverSamples() {
    try (CalibratedModel cal = calibrated(true)) {
      ChannelwiseDistribution.Result r =
          ChannelwiseDistribution.run(
              cal,
              data(),
              ChannelwiseDistribution.Options.defaults()
                  .nodes(List.of("x_HzCalibration", "y_HzCalibration"))
                  .dataNum(3),
              Progress.NONE);
      Table x = r.of("x_HzCalibration").stats();
      assertEquals(1, r.of("x_HzCalibration").axis());
      assertEquals(4, x.rowCount());
      // channel 0 of x over the three samples: 0.5, -0.6875, 1
      assertEquals(-0.6875, col(x, "min")[0], 1e-12);
      assertEquals((-0.6875 + 0.5) / 2, col(x, "q1")[0], 1e-12);
      assertEquals(0.5, col(x, "median")[0], 1e-12);
      assertEquals(0.75, col(x, "q3")[0], 1e-12);
      assertEquals((0.5 - 0.6875 + 1) / 3, col(x, "mean")[0], 1e-7);

      // y: the input of its calibration node in the calibrated model (x and W quantized)
      float[] xq = new float[4];
      float[] wq = new float[12];
      float[] ws = {0.05f, 1f, 0.1f};
      Table y = r.of("y_HzCalibration").stats();
      for (int c = 0; c < 3; c++) {
        double[] v = new double[3];
        for (int s = 0; s < 3; s++) {
          for (int k = 0; k < 4; k++) {
            xq[k] = Fixture.fq(DistributionTest.X[s][k], 0.125f, 0, QType.INT8);
          }
          for (int i = 0; i < 12; i++) {
            wq[i] = Fixture.fq(W[i], ws[i % 3], 0, QType.INT8);
          }
          v[s] = Fixture.matvec(xq, wq)[c];
        }
        Arrays.sort(v);
        assertEquals(v[0], col(y, "min")[c], 1e-5);
        assertEquals(v[1], col(y, "median")[c], 1e-5);
        assertEquals(v[2], col(y, "max")[c], 1e-5);
      }
    }
  }

  @Test
  void savesCsvAndPageAndRejectsBadInput() throws Exception {
    try (CalibratedModel cal = calibrated(true)) {
      var o = ChannelwiseDistribution.Options.defaults().nodes(List.of("W_HzCalibration"));
      ChannelwiseDistribution.run(cal, data(), o, Progress.NONE).save(tmp.resolve("out"));
      assertTrue(
          Files.readString(tmp.resolve("out/W_HzCalibration_boxplot.csv"))
              .startsWith(
                  "channel,count,min,q1,median,mean,q3,max,lower-whisker,upper-whisker,outliers\n"));
      String page = Files.readString(tmp.resolve("out/W_HzCalibration_boxplot.html"));
      assertTrue(page.contains("\"q1\"") && page.contains("values in the channel"), "box page");

      QdebugException e =
          assertThrows(
              QdebugException.class,
              () -> ChannelwiseDistribution.run(cal, data(), o.axis(2), Progress.NONE));
      assertTrue(
          e.getMessage().contains("--axis") && e.getMessage().contains("'W'"), e.getMessage());
      e =
          assertThrows(
              QdebugException.class,
              () ->
                  ChannelwiseDistribution.run(
                      cal, data(), o.nodes(List.of("W_HzCalibratio")), Progress.NONE));
      assertTrue(e.getMessage().contains("W_HzCalibration"), e.getMessage());
    }
  }
}
