package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.debug.TwoBranch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SensitivityAnalysisCommandTest {
  @TempDir static Path tmp;
  static TwoBranch net;

  @BeforeAll
  static void setUp() {
    net = TwoBranch.write(tmp, 4, 2);
  }

  @Test
  void writesTheCurveAndPrintsItsNumbers() throws Exception {
    Path dir = tmp.resolve("sa");
    var r = InferCommandTest.cli("sensitivity-analysis", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString(), "--data-num", "0", "--save-dir", dir.toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().lines().anyMatch(l -> l.startsWith("mm_b ")), r.out());
    List<String> csv = Files.readAllLines(dir.resolve("partial_quantization.csv"));
    assertEquals(3, csv.size(), "none and mm_b: " + csv);
    assertTrue(csv.get(2).startsWith("mm_b,1,"), csv.toString());
    assertTrue(Files.readString(dir.resolve("partial_quantization.html")).contains("Partial quantization analysis"));

    r = InferCommandTest.cli("sensitivity-analysis", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString(), "--sensitive-nodes", "add,mm_a",
        "--save-dir", dir.toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(Files.readAllLines(dir.resolve("partial_quantization.csv")).get(2).startsWith("add,1,"));
  }

  @Test
  void badInputExitsTwoNamingIt() {
    Path dir = tmp.resolve("bad");
    var r = InferCommandTest.cli("sensitivity-analysis", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString(), "--sensitive-nodes", "relu", "--save-dir", dir.toString());
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("--sensitive-nodes") && r.err().contains("'relu'"), r.err());
    r = InferCommandTest.cli("sensitivity-analysis", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString(), "--pick-threshold", "2", "--save-dir", dir.toString());
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("--pick-threshold"), r.err());
    assertTrue(!Files.exists(dir.resolve("partial_quantization.csv")));
  }
}
