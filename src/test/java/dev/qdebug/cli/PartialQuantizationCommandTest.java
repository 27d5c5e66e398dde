package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.debug.TwoBranch;
import dev.qdebug.quant.CalibratedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PartialQuantizationCommandTest {
  @TempDir static Path tmp;
  static TwoBranch net;

  @BeforeAll
  static void setUp() {
    net = TwoBranch.write(tmp, 6, 60);
  }

  @Test
  void findsTheNodeAndWritesTheModelAndTables() throws Exception {
    Path dir = tmp.resolve("pq");
    Path out = tmp.resolve("partial.onnx");
    var r = InferCommandTest.cli("partial-quantization", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString(), "--dataset", net.labeled.toString(),
        "--save-dir", dir.toString(), "--output", out.toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("k = 1: left in float: mm_b"), r.out());
    assertTrue(r.err().contains("partial-quantization"), "progress: " + r.err());
    List<String> summary = Files.readAllLines(dir.resolve("partial_quantization_summary.csv"));
    assertEquals("model,strategy,float-accuracy,calibration-method,quantized-accuracy,percent-of-float", summary.get(0));
    assertTrue(summary.get(2).contains("top 1 sensitive node in float"), summary.toString());
    assertTrue(Files.readAllLines(dir.resolve("partial_quantization_search.csv")).get(0).startsWith("k,node,calibration-nodes,top-1,percent-of-float,meets-target"));
    assertTrue(Files.exists(dir.resolve("partial_quantization_search.html")));
    for (Path p : List.of(out, dir.resolve("partial_quantized_model.onnx"))) {
      try (CalibratedModel m = CalibratedModel.load(p)) {
        assertEquals(Set.of("Wa_HzCalibration", "a_HzCalibration", "b_HzCalibration"), m.enabled(), p.toString());
      }
    }

    r = InferCommandTest.cli("partial-quantization", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString(), "--target", "0.9999", "--int16",
        "--exhaustive", "--save-dir", tmp.resolve("cos").toString());
    assertEquals(0, r.status(), r.err());
    List<String> search = Files.readAllLines(tmp.resolve("cos/partial_quantization_search.csv"));
    assertEquals("k,node,calibration-nodes,cosine-similarity,meets-target,step", search.get(0));
    assertEquals(5, search.size(), "every k of 0..3: " + search);
  }

  @Test
  void badInputExitsTwoNamingIt() {
    var r = InferCommandTest.cli("partial-quantization", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString(), "--dataset", net.labeled.toString(),
        "--target", "99", "--save-dir", tmp.resolve("bad").toString());
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("--target"), r.err());
    r = InferCommandTest.cli("partial-quantization", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString(), "--output", net.calibratedModel.toString(),
        "--save-dir", tmp.resolve("bad").toString());
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("--output") && r.err().contains("input model"), r.err());
    r = InferCommandTest.cli("partial-quantization", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString(), "--sensitive-nodes", "mm_x",
        "--save-dir", tmp.resolve("bad").toString());
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("'mm_x'") && r.err().contains("closest"), r.err());
  }
}
