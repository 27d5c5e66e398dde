package dev.qdebug.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.qdebug.Progress;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Snapshot;
import dev.qdebug.onnx.OnnxModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Re-running only the graph downstream of the switched-on nodes, from a float snapshot, gives
 * exactly (bit for bit) what a full run with those nodes on gives: for each node alone, for
 * pairs, and for all nodes, on nets with residual branches, squeeze-excitation and attention.
 */
class RerunTest {
  @TempDir Path tmp;

  @ParameterizedTest
  @ValueSource(strings = {"mnasnet_like_op13.onnx", "mobilevit_like_op13.onnx"})
  void rerunEqualsFullRun(String file) throws Exception {
    OnnxModel model = OnnxModel.load(Path.of(getClass().getResource("/models/" + file).toURI()));
    var in = model.inputs().get(0);
    long[] shape = in.shape().clone();
    shape[0] = 1;
    Nd4j.getRandom().setSeed(2);
    for (int i = 0; i < 3; i++) {
      Npy.write(tmp.resolve("d/" + in.name() + "/" + i + ".npy"),
          Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, shape));
    }
    SampleSet data = SampleSet.open(tmp.resolve("d"), model.inputs());
    try (CalibratedModel cal = Calibrator.calibrate(model, data,
        Calibrator.Options.defaults().method(CalibrationMethod.MAX), Progress.NONE)) {
      Map<String, INDArray> batch = data.batch(0, 3);
      Snapshot base = cal.floatSnapshot(batch);
      String out = model.outputs().get(0).name();
      List<CalibrationNode> nodes = cal.nodes();
      for (int i = 0; i < nodes.size(); i++) {
        List<String> on = i + 1 < nodes.size()
            ? List.of(nodes.get(i).name(), nodes.get((i * 7 + 3) % nodes.size()).name())
            : List.of(nodes.get(i).name());
        INDArray full = cal.run(batch, on, RunOptions.defaults()).get(out);
        INDArray part = cal.rerun(base, on, RunOptions.defaults()).get(out);
        assertBitEqual(full, part, "nodes " + on);
      }
      List<String> all = nodes.stream().map(CalibrationNode::name).toList();
      assertBitEqual(
          cal.run(batch, all, RunOptions.defaults()).get(out),
          cal.rerun(base, all, RunOptions.defaults()).get(out), "all nodes");
      assertBitEqual(
          cal.run(batch, List.of(), RunOptions.defaults()).get(out),
          cal.rerun(base, List.of(), RunOptions.defaults()).get(out), "no node");
    }
  }

  /**
   * A snapshot kept for given variants only (the late half of the nodes) holds less than a full
   * one, drops what lies upstream of every change, and re-runs the variants bit for bit as a full
   * run does; it can be closed after use.
   */
  @ParameterizedTest
  @ValueSource(strings = {"mnasnet_like_op13.onnx", "mobilevit_like_op13.onnx"})
  void partialSnapshotKeepsWhatRerunsRead(String file) throws Exception {
    OnnxModel model = OnnxModel.load(Path.of(getClass().getResource("/models/" + file).toURI()));
    var in = model.inputs().get(0);
    long[] shape = in.shape().clone();
    shape[0] = 1;
    Nd4j.getRandom().setSeed(3);
    for (int i = 0; i < 2; i++) {
      Npy.write(tmp.resolve("p/" + in.name() + "/" + i + ".npy"),
          Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, shape));
    }
    SampleSet data = SampleSet.open(tmp.resolve("p"), model.inputs());
    try (CalibratedModel cal = Calibrator.calibrate(model, data,
        Calibrator.Options.defaults().method(CalibrationMethod.MAX), Progress.NONE)) {
      Map<String, INDArray> batch = data.batch(0, 2);
      String out = model.outputs().get(0).name();
      List<CalibrationNode> nodes = cal.nodes();
      List<CalibrationNode> late = nodes.subList(nodes.size() / 2, nodes.size());
      List<List<String>> variants = late.stream().map(c -> List.of(c.name())).toList();
      long fullBytes;
      try (Snapshot full = cal.floatSnapshot(batch)) {
        fullBytes = full.bytes();
      }
      try (Snapshot part = cal.floatSnapshot(batch, variants, List.of(out))) {
        org.junit.jupiter.api.Assertions.assertTrue(
            part.bytes() < fullBytes, part.bytes() + " bytes kept of " + fullBytes);
        // the graph input is upstream of every late node: dropped
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class, () -> part.get(in.name()));
        for (List<String> on : variants) {
          assertBitEqual(
              cal.run(batch, on, RunOptions.defaults()).get(out),
              cal.rerun(part, on, RunOptions.defaults()).get(out),
              "nodes " + on);
        }
      }
    }
  }

  static void assertBitEqual(INDArray a, INDArray b, String what) {
    org.junit.jupiter.api.Assertions.assertArrayEquals(a.shape(), b.shape(), what);
    float[] x = a.dup('c').data().asFloat();
    float[] y = b.dup('c').data().asFloat();
    for (int i = 0; i < x.length; i++) {
      assertEquals(Float.floatToIntBits(x[i]), Float.floatToIntBits(y[i]), what + " element " + i);
    }
  }
}
