package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.debug.TwoBranch;
import dev.qdebug.quant.CalibratedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiagnoseCommandTest {
  @TempDir static Path tmp;
  static TwoBranch net;

  @BeforeAll
  static void setUp() {
    net = TwoBranch.write(tmp, 16, 60);
  }

  @Test
  void writesTablesAndTheFixedModel() throws Exception {
    Path dir = tmp.resolve("diag");
    Path out = tmp.resolve("fixed.onnx");
    var r = InferCommandTest.cli("diagnose", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString(), "--dataset", net.labeled.toString(),
        "--top", "3", "--save-dir", dir.toString(), "--output", out.toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("target reached: fixed model top-1"), r.out());
    assertTrue(r.err().contains("diagnose"), "progress: " + r.err());
    List<String> summary = Files.readAllLines(dir.resolve("diagnose_summary.csv"));
    assertEquals("node,cause,evidence,fixes-tried (gain),kept-fix", summary.get(0));
    assertTrue(summary.get(1).startsWith("mm_b,"), summary.toString());
    List<String> acc = Files.readAllLines(dir.resolve("diagnose_accuracy.csv"));
    assertTrue(acc.get(0).startsWith("model,output-cosine-similarity,top-1,percent-of-float"), acc.toString());
    assertEquals(5, acc.size(), "float, calibrated, fixed, top-k in float: " + acc);
    assertTrue(Files.readString(dir.resolve("diagnose_samples.html")).contains("mm_b"));
    for (Path p : List.of(out, dir.resolve("fixed_model.onnx"))) {
      try (CalibratedModel m = CalibratedModel.load(p)) {
        assertTrue(m.nodes().size() >= 4, p.toString());
      }
    }
  }

  @Test
  void badInputExitsTwoNamingIt() {
    String[] base = {"diagnose", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString()};
    var r = cli(base, "--target", "1.5");
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("--target") && r.err().strip().lines().count() == 1, r.err());
    r = cli(base, "--target", "0");
    assertEquals(2, r.status(), r.err());
    r = cli(base, "--target-metric", "top-1");
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("--dataset"), r.err());
    r = cli(base, "--trial-eval-num", "-1");
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("--trial-eval-num") && r.err().strip().lines().count() == 1, r.err());
    r = cli(base, "--nodes", "mm_x");
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("'mm_x'") && r.err().contains("closest"), r.err());
    r = cli(base, "--output", net.calibratedModel.toString());
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("--output") && r.err().contains("input model"), r.err());
  }

  private static dev.qdebug.Cli.Result cli(String[] base, String... more) {
    String[] all = new String[base.length + more.length];
    System.arraycopy(base, 0, all, 0, base.length);
    System.arraycopy(more, 0, all, base.length, more.length);
    return InferCommandTest.cli(all);
  }
}
