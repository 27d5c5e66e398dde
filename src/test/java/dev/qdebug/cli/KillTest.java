package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.data.Npy;
import dev.qdebug.onnx.OnnxModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The fault test of issue 9: {@code calibrate} and {@code runall} run as child JVMs and are killed
 * with SIGKILL at seeded random moments. Afterwards the output is either absent or complete and
 * loadable (an older complete version counts: a killed overwrite leaves the old file), no
 * temporary file is left visible, a later run cleans up the hidden leftovers, and every input is
 * byte-identical.
 */
class KillTest {
  static final long SEED = Long.getLong("qdebug.kill.seed", 77L);

  @TempDir Path tmp;

  static Process start(Path log, String... args) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-cp", System.getProperty("java.class.path")));
    cmd.add(Main.class.getName());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
    return pb.start();
  }

  /** Runs to the end; returns how long it took in nanoseconds. */
  static long runToEnd(Path log, String... args) throws Exception {
    long t0 = System.nanoTime();
    Process p = start(log, args);
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly();
    }
    assertEquals(0, p.exitValue(), Files.readString(log));
    return System.nanoTime() - t0;
  }

  /** Starts, then kills with SIGKILL after {@code delayNanos} (if still running). */
  static void runAndKill(Path log, long delayNanos, String... args) throws Exception {
    Process p = start(log, args);
    boolean ended = p.waitFor(delayNanos, TimeUnit.NANOSECONDS);
    if (!ended) {
      p.destroyForcibly(); // SIGKILL on Linux
      p.waitFor();
    }
  }

  static Map<Path, String> hashes(Path... roots) throws Exception {
    Map<Path, String> m = new TreeMap<>();
    for (Path r : roots) {
      try (Stream<Path> s = Files.walk(r)) {
        for (Path p : s.filter(Files::isRegularFile).toList()) {
          m.put(p, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
        }
      }
    }
    return m;
  }

  /** The visible (not hidden) files of {@code dir}, recursively. */
  static List<Path> visible(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile)
          .filter(p -> !p.getFileName().toString().startsWith("."))
          .toList();
    }
  }

  static List<Path> hidden(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile)
          .filter(p -> p.getFileName().toString().startsWith("."))
          .toList();
    }
  }

  @Test
  void calibrateKilledAtRandomMoments() throws Exception {
    Path model = Path.of(getClass().getResource("/models/repvgg_like_op13.onnx").toURI());
    Path in = tmp.resolve("in");
    Files.createDirectories(in);
    Path m = Files.copy(model, in.resolve("float.onnx"));
    Nd4j.getRandom().setSeed(3);
    for (int i = 0; i < 12; i++) {
      Npy.write(in.resolve("cal/input/" + i + ".npy"), Nd4j.randn(DataType.FLOAT, 1, 3, 32, 32));
    }
    Map<Path, String> before = hashes(in);
    Path outDir = tmp.resolve("out");
    Path out = outDir.resolve("cal.onnx");
    String[] args = {
      "calibrate", "--model", m.toString(), "--calibration-data", in.resolve("cal").toString(),
      "--output", out.toString(), "--method", "max"
    };
    long full = runToEnd(tmp.resolve("full.log"), args);
    int nodes = OnnxModel.load(out).nodes().size();
    Files.delete(out);

    Random rnd = new Random(SEED);
    for (int k = 0; k < 6; k++) {
      // the first kills with no output yet, the later ones over a complete earlier output
      long delay = (long) (full * (0.3 + 0.8 * rnd.nextDouble()));
      runAndKill(tmp.resolve("kill" + k + ".log"), delay, args);
      List<Path> files = visible(outDir);
      assertTrue(files.isEmpty() || files.equals(List.of(out)), "only the output is visible: " + files);
      if (Files.exists(out)) {
        assertEquals(nodes, OnnxModel.load(out).nodes().size(), "complete after a kill at " + delay);
      }
      assertEquals(before, hashes(in), "inputs unchanged after a kill at " + delay);
    }
    runToEnd(tmp.resolve("again.log"), args);
    assertEquals(nodes, OnnxModel.load(out).nodes().size());
    assertEquals(List.of(), hidden(outDir), "the killed runs' temporary files are gone");
    assertEquals(before, hashes(in));
  }

  @Test
  void runallKilledAtRandomMoments() throws Exception {
    Path in = tmp.resolve("in");
    HostileInputTest.graph("x").model().save(in.resolve("float.onnx"));
    HostileInputTest.samples(in.resolve("data/x"), 4, 1f);
    Path cal = in.resolve("cal.onnx");
    var r =
        dev.qdebug.Cli.run(
            "calibrate", "--model", in.resolve("float.onnx").toString(), "--calibration-data",
            in.resolve("data").toString(), "--output", cal.toString(), "--method", "max");
    assertEquals(0, r.status(), r.err());
    Map<Path, String> before = hashes(in);
    Path report = tmp.resolve("report");
    String[] args = {
      "runall", "--model", cal.toString(), "--calibration-data", in.resolve("data").toString(),
      "--data-num", "2", "--save-dir", report.toString()
    };
    long full = runToEnd(tmp.resolve("full.log"), args);
    List<Path> complete = visible(report);
    assertTrue(complete.contains(report.resolve("index.html")), complete.toString());
    deleteTree(report);

    Random rnd = new Random(SEED + 1);
    for (int k = 0; k < 4; k++) {
      long delay = (long) (full * (0.3 + 0.8 * rnd.nextDouble()));
      runAndKill(tmp.resolve("kill" + k + ".log"), delay, args);
      List<Path> files = visible(report);
      assertTrue(complete.containsAll(files), "no file but the report's own: " + files);
      for (Path f : files) {
        assertComplete(f);
      }
      // a new report folder appears whole or not at all (built hidden beside it, then renamed)
      assertTrue(files.isEmpty() || files.size() == complete.size(),
          "no report or the complete one after a kill at " + delay + ": " + files);
      assertEquals(before, hashes(in), "inputs unchanged after a kill at " + delay);
      deleteTree(report);
    }
    // the next run finishes and removes what the killed ones left beside the folder
    runToEnd(tmp.resolve("last.log"), args);
    assertEquals(complete.size(), visible(report).size());
    try (java.util.stream.Stream<Path> s = Files.list(tmp)) {
      List<String> left =
          s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".qdebug-partial-")).toList();
      assertTrue(left.isEmpty(), "staging folders of killed runs are removed: " + left);
    }
  }

  /** A report file as written whole: HTML closed, CSV with a header, JSON closed, .npy parsed. */
  static void assertComplete(Path f) throws IOException {
    String n = f.getFileName().toString();
    if (n.endsWith(".html")) {
      assertTrue(Files.readString(f).strip().endsWith("</html>"), "complete: " + f);
    } else if (n.endsWith(".csv")) {
      assertTrue(Files.readString(f).endsWith("\n"), "complete: " + f);
    } else if (n.endsWith(".json")) {
      String s = Files.readString(f).strip();
      assertTrue(s.endsWith("}") || s.endsWith("]"), "complete: " + f);
    } else if (n.endsWith(".npy")) {
      Npy.read(f);
    } else if (n.endsWith(".onnx")) {
      OnnxModel.load(f);
    } else {
      assertFalse(Files.size(f) == 0, "not empty: " + f);
    }
  }

  static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
        Files.delete(q);
      }
    }
  }
}
