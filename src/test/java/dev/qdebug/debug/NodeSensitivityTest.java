package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.ModelException;
import dev.qdebug.Ort;
import dev.qdebug.Progress;
import dev.qdebug.TestModels;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.metrics.Metric;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.Calibrator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class NodeSensitivityTest {
  @TempDir Path tmp;

  SampleSet data(OnnxModel model, int n) {
    var in = model.inputs().get(0);
    long[] shape = in.shape().clone();
    shape[0] = 1;
    Nd4j.getRandom().setSeed(4);
    for (int i = 0; i < n; i++) {
      Npy.write(tmp.resolve("d/" + in.name() + "/" + i + ".npy"),
          Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, shape));
    }
    return SampleSet.open(tmp.resolve("d"), model.inputs());
  }

  /**
   * y = convA(x) + convB(x). convB's weight has one huge value, so per-tensor int8 rounds all its
   * other weights to 0: quantizing convB ruins the output, convA barely matters.
   */
  static OnnxModel twoBranches() {
    Random r = new Random(1);
    float[] wa = new float[4 * 3 * 3 * 3];
    float[] wb = new float[4 * 3 * 3 * 3];
    for (int i = 0; i < wa.length; i++) {
      wa[i] = (float) r.nextGaussian();
      wb[i] = (float) r.nextGaussian();
    }
    wb[5] = 500f;
    return TestModels.graph()
        .input("x", -1, 3, 6, 6)
        .output("y", -1, 4, 6, 6)
        .initializer("wa", wa, 4, 3, 3, 3)
        .initializer("wb", wb, 4, 3, 3, 3)
        .node("Conv", "convA", new String[] {"x", "wa"}, new String[] {"a"}, TestModels.ints("pads", 1, 1, 1, 1))
        .node("Conv", "convB", new String[] {"x", "wb"}, new String[] {"b"}, TestModels.ints("pads", 1, 1, 1, 1))
        .node("Add", "add", new String[] {"a", "b"}, new String[] {"y"})
        .model();
  }

  @Test
  void theNodeBrokenByConstructionRanksFirst() {
    OnnxModel m = twoBranches();
    SampleSet d = data(m, 4);
    try (CalibratedModel cal = Calibrator.calibrate(m, d,
            Calibrator.Options.defaults().method(CalibrationMethod.MAX).perChannel(false), Progress.NONE);
        Debugger dbg = Debugger.of(cal, d)) {
      var nodes = dbg.getSensitivityOfNodes(NodeSensitivity.Options.defaults().dataNum(0)
          .metrics(List.of(Metric.COSINE_SIMILARITY, Metric.MSE)));
      assertEquals("convB", nodes.ranking().get(0));
      assertEquals(3, nodes.ranking().size());
      // convA's candidate also quantizes x, which convB reads too; still far less harmful
      assertTrue(
          nodes.score("convB", Metric.MSE) > 4 * nodes.score("convA", Metric.MSE),
          nodes.table().print());
      var weights = dbg.getSensitivityOfNodes(NodeSensitivity.Options.defaults()
          .nodeType(NodeSensitivity.NodeType.WEIGHT).metrics(List.of(Metric.MSE)));
      assertEquals("wb_HzCalibration", weights.ranking().get(0), "mse sorts descending");
      var groups = dbg.getSensitivityOfNodes(NodeSensitivity.Options.defaults()
          .interestedNodes(List.of(List.of("convA"), List.of("convA", "add"))));
      assertEquals(List.of("convA+add", "convA"), groups.ranking());
    }
  }

  @Test
  void rankingMatchesBruteForceRunsInOnnxRuntime() throws Exception {
    OnnxModel m = OnnxModel.load(Path.of(getClass().getResource("/models/mnasnet_like_op13.onnx").toURI()));
    SampleSet d = data(m, 3);
    try (CalibratedModel cal = Calibrator.calibrate(m, d,
            Calibrator.Options.defaults().method(CalibrationMethod.MAX), Progress.NONE);
        Debugger dbg = Debugger.of(cal, d)) {
      var result = dbg.getSensitivityOfNodes(NodeSensitivity.Options.defaults().dataNum(3));
      String out = m.outputs().get(0).name();
      Map<String, INDArray> in = d.batch(0, 3);
      INDArray ref = Ort.run(m.proto(), in, List.of(out)).get(out);
      int checked = 0;
      for (NodeSensitivity.Candidate c : NodeSensitivity.candidates(cal, result.options())) {
        Path f = tmp.resolve("one.onnx");
        Files.deleteIfExists(f);
        cal.save(f, c.calibrationNodes());
        INDArray q = Ort.run(OnnxModel.load(f).proto(), in, List.of(out)).get(out);
        double sum = 0;
        for (int s = 0; s < 3; s++) {
          sum += Metric.cosine(ref.slice(s).dup('c').data().asFloat(), q.slice(s).dup('c').data().asFloat());
        }
        double ort = sum / 3;
        double ours = result.score(c.name(), Metric.COSINE_SIMILARITY);
        assertEquals(ort, ours, 2e-5 + 0.02 * (1 - ort), c.name());
        checked++;
      }
      assertTrue(checked > 10, "candidates: " + checked);
    }
  }

  @Test
  void candidatesOnSeveralThreadsScoreExactlyAsOnOne() throws Exception {
    OnnxModel m = OnnxModel.load(Path.of(getClass().getResource("/models/mnasnet_like_op13.onnx").toURI()));
    SampleSet d = data(m, 6);
    try (CalibratedModel cal = Calibrator.calibrate(m, d,
            Calibrator.Options.defaults().method(CalibrationMethod.MAX), Progress.NONE)) {
      for (NodeSensitivity.NodeType type : NodeSensitivity.NodeType.values()) {
        var o = NodeSensitivity.Options.defaults().nodeType(type).dataNum(6)
            .metrics(List.of(Metric.COSINE_SIMILARITY, Metric.MSE));
        NodeSensitivity.Result one;
        NodeSensitivity.Result three;
        try {
          System.setProperty(Workers.THREADS_PROPERTY, "1");
          one = NodeSensitivity.run(cal, d, o, Progress.NONE);
          System.setProperty(Workers.THREADS_PROPERTY, "3");
          assertEquals(3, Workers.Sweep.of(cal.session(), d, 6, "test").threads(), "a small model");
          three = NodeSensitivity.run(cal, d, o, Progress.NONE);
        } finally {
          System.clearProperty(Workers.THREADS_PROPERTY);
        }
        var a = one.detail();
        var b = three.detail();
        assertTrue(a.rowCount() > 2, type + ": candidates " + a.rowCount());
        assertEquals(a.columnNames(), b.columnNames());
        assertEquals(a.rowCount(), b.rowCount());
        for (int c = 0; c < a.columnCount(); c++) {
          for (int r = 0; r < a.rowCount(); r++) {
            assertEquals(a.column(c).get(r), b.column(c).get(r),
                type + ": " + a.column(c).name() + " row " + r);
          }
        }
      }
    }
  }

  @Test
  void wrongNodeNameListsTheClosest() {
    OnnxModel m = twoBranches();
    SampleSet d = data(m, 1);
    try (CalibratedModel cal = Calibrator.calibrate(m, d,
            Calibrator.Options.defaults().method(CalibrationMethod.MAX), Progress.NONE);
        Debugger dbg = Debugger.of(cal, d)) {
      ModelException e = assertThrows(ModelException.class, () -> dbg.getSensitivityOfNodes(
          NodeSensitivity.Options.defaults().interestedNodes(List.of(List.of("conv_b")))));
      assertTrue(e.getMessage().contains("'conv_b'") && e.getMessage().contains("convB"), e.getMessage());
    }
  }

  @Test
  void commandPrintsTheTableAndWritesCsvAndFigure() throws Exception {
    OnnxModel m = twoBranches();
    SampleSet d = data(m, 2);
    Path calFile = tmp.resolve("cal.onnx");
    try (CalibratedModel cal = Calibrator.calibrate(m, d,
        Calibrator.Options.defaults().method(CalibrationMethod.MAX).perChannel(false), Progress.NONE)) {
      cal.save(calFile);
    }
    var r = dev.qdebug.Cli.run("get-sensitivity-of-nodes", "--model", calFile.toString(),
        "--calibration-data", tmp.resolve("d").toString(), "--metrics", "mse,cosine-similarity",
        "--data-num", "2", "--save-dir", tmp.resolve("out").toString(), "--csv", tmp.resolve("s.csv").toString());
    assertEquals(0, r.status(), r.err());
    List<String> lines = Files.readAllLines(tmp.resolve("s.csv"));
    assertEquals("node,mse,cosine-similarity", lines.get(0));
    assertTrue(lines.get(1).startsWith("convB,"), lines.get(1));
    String html = Files.readString(tmp.resolve("out/node_sensitivity.html"));
    assertTrue(html.contains("Node sensitivity") && html.contains("plotly-cartesian-2.35.3.min.js"));
    assertTrue(Files.size(tmp.resolve("out/plotly-cartesian-2.35.3.min.js")) > 1_000_000, "plotly.js beside the page");

    r = dev.qdebug.Cli.run("get-sensitivity-of-nodes", "--model", calFile.toString(),
        "--calibration-data", tmp.resolve("d").toString(), "--metrics", "cosine");
    assertEquals(2, r.status());
    assertTrue(r.err().contains("--metrics") && r.err().contains("cosine-similarity"), r.err());
  }
}
