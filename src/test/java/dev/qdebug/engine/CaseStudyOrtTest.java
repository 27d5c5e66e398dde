package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Ort;
import dev.qdebug.data.SampleSet;
import dev.qdebug.onnx.OnnxModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The trained case-study models in {@code data/models} (uint8 image input, preprocessing inside
 * the graph) give ONNX Runtime's logits to 1e-4 relative on real calibration images, batch 8.
 */
class CaseStudyOrtTest {
  @TestFactory
  Stream<DynamicTest> caseStudyModelsMatchOrt() throws Exception {
    Path dir = Path.of("data/models");
    List<Path> models;
    try (Stream<Path> s = Files.list(dir)) {
      models = s.filter(p -> p.toString().endsWith(".onnx")).sorted().toList();
    }
    assertTrue(!models.isEmpty(), "no case-study models in data/models");
    return models.stream().map(p -> DynamicTest.dynamicTest(p.getFileName().toString(), () -> check(p)));
  }

  static void check(Path p) {
    OnnxModel m = OnnxModel.load(p);
    Map<String, INDArray> in = SampleSet.open(Path.of("data/calibration"), m.inputs()).batch(0, 8);
    String out = m.outputs().get(0).name();
    INDArray ours;
    try (Session s = Session.open(m)) {
      ours = s.run(in).get(out);
    }
    INDArray ort = Ort.run(m.proto(), in, List.of(out)).get(out);
    double scale = Math.max(1, ort.amaxNumber().doubleValue());
    double diff = ours.sub(ort).amaxNumber().doubleValue();
    assertTrue(diff <= 1e-4 * scale, p + ": max |ours - ORT| = " + diff + " (scale " + scale + ")");
  }
}
