package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Ort;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.metrics.Metric;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.QType;
import dev.qdebug.quant.TensorKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The calibrate command end to end: options reach the calibration, ORT runs what it writes. */
class CalibrateCommandTest {
  @TempDir Path tmp;

  Path model() throws Exception {
    return Path.of(getClass().getResource("/models/repvgg_like_op13.onnx").toURI());
  }

  Path data(int n) {
    Nd4j.getRandom().setSeed(3);
    for (int i = 0; i < n; i++) {
      Npy.write(tmp.resolve("cal/input/" + i + ".npy"), Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, 3, 32, 32));
    }
    return tmp.resolve("cal");
  }

  @Test
  void writesQdqThatOrtRunsWithTheChosenOptions() throws Exception {
    Path out = tmp.resolve("int4w.onnx");
    var r = InferCommandTest.cli("calibrate", "--model", model().toString(), "--calibration-data",
        data(6).toString(), "--output", out.toString(), "--method", "percentile", "--percentile",
        "99.9", "--per-tensor", "--asymmetric", "--weight-bits", "4", "--data-num", "5");
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("method percentile_asy"), r.out());
    assertTrue(r.err().contains("5/5"), "progress bar: " + r.err());
    try (CalibratedModel cal = CalibratedModel.load(out)) {
      for (CalibrationNode n : cal.nodes()) {
        assertEquals(n.kind() == TensorKind.WEIGHT ? QType.INT4 : QType.INT8, n.params().type());
        assertEquals(-1, n.params().axis(), "--per-tensor");
      }
      assertTrue(cal.nodes().stream().anyMatch(n -> n.params().zeroPoint()[0] != 0), "--asymmetric");
      Map<String, INDArray> in = SampleSet.open(tmp.resolve("cal"), cal.floatModel().inputs()).batch(0, 2);
      String o = cal.floatModel().outputs().get(0).name();
      INDArray ours = cal.run(in).get(o);
      INDArray ort = Ort.run(OnnxModel.load(out).proto(), in, List.of(o)).get(o);
      double cos = Metric.cosine(ours.dup('c').data().asFloat(), ort.dup('c').data().asFloat());
      assertTrue(cos > 0.99, "ORT runs the int4-weight QDQ file like we do: cosine " + cos);
    }
  }

  @Test
  void badOptionsAndDataExitTwoNamingThem() throws Exception {
    Path out = tmp.resolve("o.onnx");
    var r = InferCommandTest.cli("calibrate", "--model", model().toString(), "--calibration-data",
        data(2).toString(), "--output", out.toString(), "--method", "entropy");
    assertEquals(2, r.status());
    assertTrue(r.err().contains("--method") && r.err().contains("entropy"), r.err());

    r = InferCommandTest.cli("calibrate", "--model", model().toString(), "--calibration-data",
        tmp.resolve("empty").toString(), "--output", out.toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("empty"), r.err());

    r = InferCommandTest.cli("calibrate", "--model", model().toString(), "--calibration-data",
        data(2).toString(), "--output", model().toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("--output"), r.err());
    assertTrue(!Files.exists(out), "nothing written on failure");
  }
}
