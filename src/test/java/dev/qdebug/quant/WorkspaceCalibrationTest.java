package dev.qdebug.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Progress;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Session;
import dev.qdebug.engine.Workspaces;
import dev.qdebug.onnx.OnnxModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Calibration and a sensitivity-like loop (many runs, each with other calibration nodes switched
 * on) give the same numbers, bit for bit, with sessions that run in a workspace as with sessions
 * that allocate every array (the engine before workspaces); the outputs collected along the loop
 * still hold their values at its end; and the saved QDQ model, run as Q/DQ ops by a session,
 * agrees too.
 */
class WorkspaceCalibrationTest {
  @TempDir Path tmp;

  static <T> T withWorkspace(boolean on, Supplier<T> body) {
    String old = System.getProperty(Session.WORKSPACE_PROPERTY);
    System.setProperty(Session.WORKSPACE_PROPERTY, String.valueOf(on));
    try {
      return body.get();
    } finally {
      if (old == null) {
        System.clearProperty(Session.WORKSPACE_PROPERTY);
      } else {
        System.setProperty(Session.WORKSPACE_PROPERTY, old);
      }
    }
  }

  SampleSet data(OnnxModel model, int n) {
    var in = model.inputs().get(0);
    long[] shape = in.shape().clone();
    shape[0] = n;
    Nd4j.getRandom().setSeed(11);
    Npy.write(tmp.resolve("data").resolve("images.npy"), Nd4j.randn(DataType.FLOAT, shape));
    return SampleSet.open(tmp.resolve("data"), model.inputs());
  }

  /** What one configuration computes: parameters, then the loop's outputs (kept as returned). */
  record Result(Map<String, float[]> scales, Map<String, long[]> zeroPoints, List<INDArray> outputs, Map<String, double[]> qdq) {}

  Result compute(OnnxModel model, SampleSet data, Path saved) {
    Calibrator.Options o = Calibrator.Options.defaults().batchSize(4);
    try (CalibratedModel cal = Calibrator.calibrate(model, data, o, Progress.NONE)) {
      Map<String, float[]> scales = new LinkedHashMap<>();
      Map<String, long[]> zps = new LinkedHashMap<>();
      for (CalibrationNode n : cal.nodes()) {
        scales.put(n.name(), n.params().scale());
        zps.put(n.name(), n.params().zeroPoint());
      }
      List<String> names = cal.nodes().stream().map(CalibrationNode::name).toList();
      List<INDArray> outputs = new ArrayList<>();
      Map<String, INDArray> batch = data.batch(0, 6);
      String out = model.outputs().get(0).name();
      outputs.add(cal.run(batch).get(out));
      outputs.add(cal.run(batch, List.of(), RunOptions.defaults()).get(out));
      for (int i = 0; i < names.size(); i++) {
        // only node i, then all but node i (weights come from the fake-quantized weight cache)
        outputs.add(cal.run(batch, List.of(names.get(i)), RunOptions.defaults()).get(out));
        List<String> rest = new ArrayList<>(names);
        rest.remove(i);
        outputs.add(cal.run(data.batch(i % 3, 2 + i % 5), rest, RunOptions.defaults()).get(out));
      }
      cal.save(saved);
      Map<String, double[]> qdq = new LinkedHashMap<>();
      try (Session s = Session.open(OnnxModel.load(saved))) {
        for (int i = 0; i < 3; i++) {
          INDArray y = s.run(data.batch(i, 3)).get(out);
          qdq.put("run" + i, y.dup('c').data().asDouble());
          assertTrue(!Workspaces.inWorkspace(y));
        }
      }
      return new Result(scales, zps, outputs, qdq);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mnasnet_like_op13.onnx", "opsets_cnn_op13.onnx"})
  void calibrationAndSensitivityLoopMatchThePlainEngine(String file) throws Exception {
    OnnxModel model = OnnxModel.load(Path.of(getClass().getResource("/models/" + file).toURI()));
    SampleSet data = data(model, 10);
    Result plain = withWorkspace(false, () -> compute(model, data, tmp.resolve("plain.onnx")));
    Result ws = withWorkspace(true, () -> compute(model, data, tmp.resolve("ws.onnx")));
    assertTrue(plain.scales().size() > 5, "nodes: " + plain.scales().size());
    assertEquals(plain.scales().keySet(), ws.scales().keySet());
    for (String n : plain.scales().keySet()) {
      assertArrayEquals(plain.scales().get(n), ws.scales().get(n), n);
      assertArrayEquals(plain.zeroPoints().get(n), ws.zeroPoints().get(n), n);
    }
    assertEquals(plain.outputs().size(), ws.outputs().size());
    for (int i = 0; i < plain.outputs().size(); i++) {
      // compared only now, after every later run: the early outputs must have kept their values
      assertArrayEquals(
          plain.outputs().get(i).dup('c').data().asDouble(),
          ws.outputs().get(i).dup('c').data().asDouble(),
          "loop output " + i);
    }
    for (String k : plain.qdq().keySet()) {
      assertArrayEquals(plain.qdq().get(k), ws.qdq().get(k), "QDQ session " + k);
    }
  }
}
