package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The heap the command line gives itself when the user chose none. */
class JavaHeapTest {
  @TempDir Path tmp;

  static final long MIB = 1L << 20;
  static final long LARGE = 64L << 30;

  static Path file(Path p, long bytes) throws Exception {
    Files.createDirectories(p.getParent());
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(bytes);
    }
    return p;
  }

  @Test
  void aUsersHeapOptionWins() {
    assertTrue(JavaHeap.chosen(List.of("-Xss16m", "-Xmx2g")));
    assertTrue(JavaHeap.chosen(List.of("-Xms512m")), "-Xms alone: a smaller -Xmx would not start");
    assertTrue(JavaHeap.chosen(List.of("-XX:MaxHeapSize=3000000000")));
    assertTrue(JavaHeap.chosen(List.of("-XX:MaxRAMPercentage=50")));
    assertTrue(JavaHeap.chosen(List.of("-XX:MaxRAM=8g")));
    assertFalse(JavaHeap.chosen(List.of()));
    assertFalse(JavaHeap.chosen(List.of("-Xss16m", "-Dorg.bytedeco.javacpp.maxphysicalbytes=0")));
  }

  @Test
  void smallModelsGetTheBaseHeap() throws Exception {
    Path model = file(tmp.resolve("m/small.onnx"), 2 * MIB);
    long h = JavaHeap.choose(new String[] {"layer-error", "--model", model.toString()}, LARGE);
    assertEquals(JavaHeap.BASE + 3 * 2 * MIB, h);
    assertEquals(
        JavaHeap.BASE,
        JavaHeap.choose(new String[] {"layer-error", "--model", tmp.resolve("none.onnx").toString()}, LARGE),
        "a file that is not there counts nothing");
  }

  @Test
  void modelsTheirExternalDataAndSampleFilesAddToIt() throws Exception {
    Path model = file(tmp.resolve("m/big.onnx"), 300 * MIB);
    file(tmp.resolve("m/big.onnx.data"), 100 * MIB); // beside it: maybe its external data
    file(tmp.resolve("m/other.onnx"), 50 * MIB); // another model beside it: not counted
    Path data = file(tmp.resolve("d/images.npy"), 200 * MIB).getParent();
    Path sample = file(tmp.resolve("s/x.npy"), 10 * MIB);
    long h =
        JavaHeap.choose(
            new String[] {"calibrate", "--model=" + model, "--calibration-data", data.toString(), sample.toString()},
            LARGE);
    assertEquals(JavaHeap.BASE + 3 * 400 * MIB + 200 * MIB + 10 * MIB, h);
  }

  @Test
  void neverMoreThanTheJvmWouldTake() throws Exception {
    Path model = file(tmp.resolve("m/big.onnx"), 900 * MIB);
    assertEquals(
        1500 * MIB, JavaHeap.choose(new String[] {"--model", model.toString()}, 1500 * MIB));
    assertEquals(512 * MIB, JavaHeap.choose(new String[] {"--help"}, 512 * MIB));
  }

  @Test
  void optionsCapTheHeapAndLetG1GiveBack() {
    List<String> o = JavaHeap.options(JavaHeap.BASE + 6 * MIB);
    assertEquals("-Xmx1030m", o.get(0));
    assertTrue(o.contains("-XX:MaxHeapFreeRatio=30"));
    assertTrue(JavaHeap.chosen(o), "a JVM started with these is not started again");
  }
}
