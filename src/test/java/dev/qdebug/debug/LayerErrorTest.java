package dev.qdebug.debug;

import static dev.qdebug.debug.Fixture.fq;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Progress;
import dev.qdebug.TestModels;
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
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Local vs accumulated error on a chain built so that the answer is known: {@code x -> A (int8,
 * scale 1/4) -> Mul by 2 -> y -> B (int8, scale 1/16) -> Relu -> z}, with x on a 1/32 grid. B's
 * grid holds every float y exactly, so B's local error is exactly zero; its accumulated error is
 * A's rounding doubled by the Mul.
 */
class LayerErrorTest {
  @TempDir Path tmp;

  static final float[][] X = {
    {3 / 32f, 9 / 32f, 19 / 32f, -26 / 32f}, {40 / 32f, -11 / 32f, 2 / 32f, 29 / 32f}
  };

  static OnnxModel chain() {
    return TestModels.graph()
        .input("x", -1, 4)
        .initializer("two", new float[] {2}, 1)
        .node("Mul", "scale2", new String[] {"x", "two"}, new String[] {"y"})
        .node("Relu", "act", new String[] {"y"}, new String[] {"z"})
        .output("z", -1, 4)
        .model();
  }

  static float[] map(float[] v, java.util.function.DoubleUnaryOperator f) {
    float[] r = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      r[i] = (float) f.applyAsDouble(v[i]);
    }
    return r;
  }

  static float[] fqA(float[] x) {
    return map(x, v -> fq((float) v, 0.25f, 0, QType.INT8));
  }

  static double rms(float[] a, float[] b, double scale) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      double e = ((double) a[i] - b[i]) / scale;
      s += e * e;
    }
    return Math.sqrt(s / a.length);
  }

  static double sqnrDb(float[] a, float[] b) {
    double na = 0;
    double nd = 0;
    for (int i = 0; i < a.length; i++) {
      na += (double) a[i] * a[i];
      nd += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
    }
    return 10 * Math.log10(na / nd);
  }

  /** The mean over the samples of {@code f(sample)}. */
  static double mean(float[][] samples, ToDoubleFunction<float[]> f) {
    double s = 0;
    for (float[] x : samples) {
      s += f.applyAsDouble(x);
    }
    return s / samples.length;
  }

  @Test
  void upstreamErrorAccumulatesWhileTheLocalErrorIsZero() throws Exception {
    OnnxModel model = chain();
    SampleSet data = Fixture.data(tmp.resolve("d"), model, X);
    List<CalibrationNode> nodes =
        List.of(
            CalibrationNode.of(
                "x", TensorKind.ACTIVATION, QParams.perTensor(0.25f, 0, QType.INT8), true, "t"),
            CalibrationNode.of(
                "y", TensorKind.ACTIVATION, QParams.perTensor(1 / 16f, 0, QType.INT8), true, "t"));
    try (CalibratedModel cal =
        new CalibratedModel(model, nodes, List.of("x_HzCalibration", "y_HzCalibration"))) {
      LayerError.Result r =
          LayerError.run(cal, data, LayerError.Options.defaults().dataNum(0), Progress.NONE);
      String a = "x_HzCalibration";
      String b = "y_HzCalibration";
      assertEquals(List.of("scale2", "act"), r.table().stringColumn("consumers").asList());
      double e = 1e-9;

      // A: x against its own fake quantization; the first node, so local == accumulated
      double mseA = mean(X, x -> Fixture.mse(x, fqA(x)));
      assertTrue(mseA > 0.001, "A rounds: " + mseA);
      assertEquals(mseA, r.value(a, "local", "mse"), e);
      assertEquals(mseA, r.value(a, "accumulated", "mse"), e);
      assertEquals(mean(X, x -> sqnrDb(x, fqA(x))), r.value(a, "local", LayerError.SQNR_DB), 1e-6);
      assertEquals(r.value(a, "local", LayerError.SQNR_DB) / 2, r.value(a, "local", "sqnr"), 1e-6);
      assertEquals(
          mean(X, x -> Fixture.cosine(x, fqA(x))), r.value(a, "local", "cosine-similarity"), e);
      assertEquals(
          mean(X, x -> rms(x, fqA(x), 0.25)), r.value(a, "local", LayerError.RMSE_SCALE), e);
      // A's consumer (Mul by 2) doubles the error; y has B's scale 1/16
      assertEquals(4 * mseA, r.value(a, "local-output", "mse"), e);
      assertEquals(4 * mseA, r.value(a, "accumulated-output", "mse"), e);
      assertEquals(
          mean(X, x -> 32 * rms(x, fqA(x), 1)),
          r.value(a, "local-output", LayerError.RMSE_SCALE),
          e);

      // B: its grid holds every float y, so alone it changes nothing ...
      assertEquals(0, r.value(b, "local", "mse"), 0);
      assertEquals(1, r.value(b, "local", "cosine-similarity"), 0);
      assertEquals(Double.POSITIVE_INFINITY, r.value(b, "local", LayerError.SQNR_DB));
      assertEquals(0, r.value(b, "local-output", "mse"), 0);
      // ... but in the calibrated model it carries A's error, doubled
      assertEquals(4 * mseA, r.value(b, "accumulated", "mse"), e);
      assertEquals(
          mean(X, x -> rms(map(x, v -> 2 * v), map(fqA(x), v -> 2 * v), 1 / 16.0)),
          r.value(b, "accumulated", LayerError.RMSE_SCALE),
          e);
      assertEquals(
          mean(
              X,
              x ->
                  Fixture.mse(
                      Fixture.relu(map(x, v -> 2 * v)), Fixture.relu(map(fqA(x), v -> 2 * v)))),
          r.value(b, "accumulated-output", "mse"),
          e);
      // z has no calibration node: no scale to measure its error in
      assertTrue(Double.isNaN(r.value(b, "local-output", LayerError.RMSE_SCALE)));

      r.save(tmp.resolve("out"));
      String csv = Files.readString(tmp.resolve("out/layer_error.csv"));
      assertTrue(
          csv.startsWith("node,tensor,type,consumers,local-cosine-similarity,local-mse"), csv);
      assertTrue(
          Files.readString(tmp.resolve("out/layer_error_rmse_scale.html")).contains("1/sqrt(12)"));
      assertTrue(Files.exists(tmp.resolve("out/layer_error.html")));
    }
  }

  @Test
  void weightNodeErrorIsTheWholeTensorsAndItsConsumersPerSample() {
    OnnxModel model = Fixture.matmulRelu(DistributionTest.W);
    SampleSet data = Fixture.data(tmp.resolve("d"), model, DistributionTest.X);
    float[] ws = DistributionTest.W_SCALE;
    List<CalibrationNode> nodes =
        List.of(
            CalibrationNode.of(
                "x", TensorKind.ACTIVATION, QParams.perTensor(0.125f, 0, QType.INT8), true, "t"),
            CalibrationNode.of(
                "W", TensorKind.WEIGHT, new QParams(ws, new long[3], 1, QType.INT8), true, "t"));
    try (CalibratedModel cal =
        new CalibratedModel(model, nodes, List.of("x_HzCalibration", "W_HzCalibration"))) {
      LayerError.Result r =
          LayerError.run(
              cal,
              data,
              LayerError.Options.defaults()
                  .nodes(List.of("W_HzCalibration"))
                  .dataNum(3)
                  .metric("sqnr-db"),
              Progress.NONE);
      assertEquals(1, r.table().rowCount());
      float[] w = DistributionTest.W;
      float[] wq = DistributionTest.fqW();
      String n = "W_HzCalibration";
      assertEquals(Fixture.mse(w, wq), r.value(n, "local", "mse"), 1e-12);
      assertEquals(Fixture.mse(w, wq), r.value(n, "accumulated", "mse"), 1e-12);
      // per-channel scales: each element's error in its own column's steps
      double s = 0;
      for (int i = 0; i < 12; i++) {
        double d = (w[i] - wq[i]) / ws[i % 3];
        s += d * d;
      }
      assertEquals(Math.sqrt(s / 12), r.value(n, "local", LayerError.RMSE_SCALE), 1e-9);
      float[][] xs = DistributionTest.X;
      assertEquals(
          mean(xs, x -> Fixture.mse(Fixture.matvec(x, w), Fixture.matvec(x, wq))),
          r.value(n, "local-output", "mse"),
          1e-9);
      assertEquals(
          mean(
              xs,
              x ->
                  Fixture.mse(
                      Fixture.matvec(x, w),
                      Fixture.matvec(map(x, v -> fq((float) v, 0.125f, 0, QType.INT8)), wq))),
          r.value(n, "accumulated-output", "mse"),
          1e-9);
      assertTrue(r.value(n, "accumulated-output", "mse") > r.value(n, "local-output", "mse"));
    }
  }
}
