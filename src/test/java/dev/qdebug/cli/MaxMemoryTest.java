package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Cli;
import dev.qdebug.Cli.Result;
import dev.qdebug.TestModels;
import dev.qdebug.data.Npy;
import dev.qdebug.engine.MemoryBudget;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code --max-memory} is a hard cap on the process's resident size: a run that holds more than
 * the ceiling stops with exit status 2 and one line naming the ceiling, the step and the memory
 * (no stack trace), and leaves the outputs as they were; a run within the ceiling runs. The
 * estimate that sizes batches is bypassed here ({@value MemoryBudget#RESERVE_PROPERTY}) so that
 * the cap itself is what stops the run.
 */
class MaxMemoryTest {
  @TempDir Path tmp;
  List<String> base;
  Path csv;

  @BeforeEach
  void calibrate() {
    Path f = tmp.resolve("float.onnx");
    TestModels.graph()
        .input("x", -1, 4)
        .initializer("W", new float[] {1, -2, 3, 0.5f, -1, 2, 0.25f, 1, -3, 2, 1, -0.5f}, 4, 3)
        .node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"y"})
        .node("Relu", "relu", new String[] {"y"}, new String[] {"z"})
        .output("z", -1, 3)
        .model()
        .save(f);
    Nd4j.getRandom().setSeed(3);
    for (int i = 0; i < 4; i++) {
      Npy.write(tmp.resolve("data/x/" + i + ".npy"), Nd4j.randn(DataType.FLOAT, 1, 4));
    }
    Path cal = tmp.resolve("cal.onnx");
    Result r =
        Cli.run(
            "calibrate", "--model", f.toString(), "--calibration-data", tmp.resolve("data").toString(),
            "--output", cal.toString(), "--method", "max");
    assertEquals(0, r.status(), r.err());
    csv = tmp.resolve("sens.csv");
    base =
        List.of(
            "get-sensitivity-of-nodes", "--model", cal.toString(), "--calibration-data",
            tmp.resolve("data").toString(), "--data-num", "0", "--csv", csv.toString());
  }

  @AfterEach
  void clear() {
    System.clearProperty(MemoryBudget.RESERVE_PROPERTY);
    MemoryBudget.setCeiling(-1, null);
  }

  static void assertOneCleanLine(String err, String ceiling) {
    assertEquals(1, err.strip().lines().count(), err);
    assertTrue(err.startsWith("qdebug: --max-memory " + ceiling + ": "), err);
    assertTrue(err.contains("get-sensitivity-of-nodes"), err); // the step
    assertTrue(err.contains("MiB"), err); // what it holds and the ceiling
    assertFalse(err.contains("Exception") || err.contains("\tat "), err);
  }

  @Test
  void aRunAboveTheCeilingStopsWithOneLineAndLeavesTheOutputs() throws Exception {
    Files.writeString(csv, "earlier output\n");
    // this JVM holds far more than 64 MiB (ND4J's libraries alone): the cap stops the first run
    System.setProperty(MemoryBudget.RESERVE_PROPERTY, "1m");
    Result r = Cli.run(base, "--max-memory", "64m");
    assertEquals(2, r.status(), r.err());
    assertOneCleanLine(r.err(), "64m");
    assertTrue(r.err().contains("needs more memory"), r.err());
    assertEquals("earlier output\n", Files.readString(csv));
  }

  @Test
  void aRunWithinTheCeilingRuns() {
    // whatever this test JVM holds already, plus 2 GiB
    long mib = (MemoryBudget.resident() >> 20) + 2048;
    Result r = Cli.run(base, "--max-memory", mib + "m");
    assertEquals(0, r.status(), r.err());
    assertTrue(Files.exists(csv));
  }

  /**
   * In a fresh JVM the command line hands the ceiling to JavaCPP before ND4J loads, so that the
   * cap holds inside native allocations too: the run stops with the same one line, not an
   * operating-system kill or a stack trace.
   */
  @Test
  void aFreshProcessStopsCleanlyAtTheCeiling() throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-D" + MemoryBudget.RESERVE_PROPERTY + "=1m");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(base);
    cmd.add("--max-memory=40m"); // ND4J loaded, a fresh JVM holds about 65 MiB
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
    pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
    Path errFile = tmp.resolve("err.txt");
    pb.redirectError(errFile.toFile());
    Process p = pb.start();
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the process did not end");
    String err = Files.readString(errFile, StandardCharsets.UTF_8);
    assertEquals(2, p.exitValue(), err);
    assertEquals(1, err.strip().lines().count(), err);
    assertTrue(err.startsWith("qdebug: --max-memory 40m: "), err);
    assertTrue(err.contains("MiB"), err);
    assertFalse(err.contains("\tat "), err);
    assertFalse(Files.exists(csv));
  }
}
