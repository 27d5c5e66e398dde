package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Progress;
import dev.qdebug.TestModels;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.metrics.Metric;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.QParams;
import dev.qdebug.quant.QType;
import dev.qdebug.quant.TensorKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad-case mining on {@code x -> Identity -> out} with x quantized to int8 with scale 1/64 (range
 * [-2, 1.98]): sample 3 goes far outside the range and saturates, so it must come out worst.
 */
class SensitiveSamplesTest {
  @TempDir Path tmp;

  static final float[][] X = {
    {0.5f, -0.3f, 0.25f, 1.1f},
    {1.4f, 0.7f, -0.9f, 0.05f},
    {-1.2f, 0.33f, 0.8f, -0.6f},
    {6.0f, 0.5f, -5.0f, 1.0f},
    {0.01f, -0.02f, 0.9f, 0.45f}
  };

  static float[] fq(float[] x) {
    float[] q = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      q[i] = Fixture.fq(x[i], 1 / 64f, 0, QType.INT8);
    }
    return q;
  }

  CalibratedModel model(OnnxModel m) {
    return new CalibratedModel(
        m,
        List.of(
            CalibrationNode.of(
                "x", TensorKind.ACTIVATION, QParams.perTensor(1 / 64f, 0, QType.INT8), true, "t")),
        List.of("x_HzCalibration"));
  }

  @Test
  void theSaturatedSampleComesFirst() throws Exception {
    OnnxModel m =
        TestModels.graph()
            .input("x", -1, 4)
            .node("Identity", "id", new String[] {"x"}, new String[] {"out"})
            .output("out", -1, 4)
            .model();
    SampleSet data = Fixture.data(tmp.resolve("d"), m, X);
    try (CalibratedModel cal = model(m)) {
      SensitiveSamples.Result r =
          SensitiveSamples.run(
              cal, data, SensitiveSamples.Options.defaults().numSample(2), Progress.NONE);
      double[] cos = new double[X.length];
      double[] mse = new double[X.length];
      for (int s = 0; s < X.length; s++) {
        cos[s] = Fixture.cosine(X[s], fq(X[s]));
        mse[s] = Fixture.mse(X[s], fq(X[s]));
      }
      List<Integer> byCos =
          IntStream.range(0, X.length)
              .boxed()
              .sorted(Comparator.comparingDouble(s -> cos[s]))
              .toList();
      assertEquals(3, byCos.get(0), "sanity: the saturated sample has the lowest cosine");
      assertEquals(byCos.subList(0, 2), r.samples());
      assertEquals(byCos, r.all().intColumn("sample").asList());
      for (int k = 0; k < X.length; k++) {
        int s = byCos.get(k);
        assertEquals(cos[s], r.all().doubleColumn("cosine-similarity").getDouble(k), 1e-12);
        assertEquals(mse[s], r.all().doubleColumn("mse").getDouble(k), 1e-12);
      }

      // by mse, larger is worse
      SensitiveSamples.Result byMse =
          SensitiveSamples.run(
              cal,
              data,
              SensitiveSamples.Options.defaults().metric(Metric.MSE).numSample(3).dataNum(3),
              Progress.NONE);
      List<Integer> expect =
          IntStream.range(0, 3)
              .boxed()
              .sorted(Comparator.comparingDouble((Integer s) -> mse[s]).reversed())
              .toList();
      assertEquals(expect, byMse.samples());

      // the selected samples are written as calibration data, worst first
      r.save(tmp.resolve("out"));
      assertArrayEquals(
          X[3], Npy.read(tmp.resolve("out/badcase_data/x/0.npy")).dup('c').data().asFloat());
      assertArrayEquals(
          X[byCos.get(1)],
          Npy.read(tmp.resolve("out/badcase_data/x/1.npy")).dup('c').data().asFloat());
      assertEquals(
          List.of(3, byCos.get(1)),
          SampleSet.open(tmp.resolve("out/badcase_data"), m.inputs()).size() == 2
              ? r.samples()
              : List.of());
      String csv = Files.readString(tmp.resolve("out/sensitive_samples.csv"));
      assertTrue(csv.startsWith("rank,sample,cosine-similarity,mse,mre,sqnr,chebyshev\n1,3,"), csv);
      assertTrue(Files.exists(tmp.resolve("out/sensitive_samples.html")));
    }
  }
}
