package dev.qdebug.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.DataException;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.ValueInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class SampleSetTest {
  @TempDir Path tmp;

  static final ValueInfo X = new ValueInfo("x", ElemType.FLOAT, new long[] {-1, 2, 3}, List.of("N", "", ""));
  static final ValueInfo Y = new ValueInfo("y", ElemType.FLOAT, new long[] {-1, 4}, List.of("N", ""));

  void write(String sub, int i, INDArray a) throws Exception {
    Files.createDirectories(tmp.resolve(sub));
    Npy.write(tmp.resolve(sub).resolve(i + ".npy"), a);
  }

  @Test
  void readsHorizonLayoutInNumericOrderAndBatches() throws Exception {
    for (int i = 0; i < 12; i++) {
      write("x", i, Nd4j.valueArrayOf(new long[] {1, 2, 3}, (float) i));
      write("y", i, Nd4j.valueArrayOf(new long[] {4}, (float) -i)); // no batch dimension
    }
    SampleSet s = SampleSet.open(tmp, List.of(X, Y));
    assertEquals(12, s.size());
    assertEquals(10f, s.sample(10).get("x").getFloat(0, 0, 0), "10.npy after 9.npy, not after 1.npy");
    Map<String, INDArray> b = s.batch(2, 3);
    assertArrayEquals(new long[] {3, 2, 3}, b.get("x").shape());
    assertArrayEquals(new long[] {3, 4}, b.get("y").shape());
    assertEquals(-4f, b.get("y").getFloat(2, 0));
  }

  @Test
  void stackedImagesFile() throws Exception {
    Npy.write(tmp.resolve("images.npy"), Nd4j.rand(DataType.FLOAT, 5, 2, 3));
    SampleSet s = SampleSet.open(tmp, List.of(X));
    assertEquals(5, s.size());
    assertArrayEquals(new long[] {2, 2, 3}, s.batch(3, 2).get("x").shape());
  }

  @Test
  void errorsNameTheFolderFileAndSample() throws Exception {
    DataException e =
        assertThrows(DataException.class, () -> SampleSet.open(tmp.resolve("nope"), List.of(X)));
    assertTrue(e.getMessage().contains("nope"), e.getMessage());

    write("x", 0, Nd4j.zeros(1, 2, 3));
    e = assertThrows(DataException.class, () -> SampleSet.open(tmp, List.of(X, Y)));
    assertTrue(e.getMessage().contains("no folder 'y'"), e.getMessage());

    Files.createDirectories(tmp.resolve("y"));
    e = assertThrows(DataException.class, () -> SampleSet.open(tmp, List.of(X, Y)));
    assertTrue(e.getMessage().contains("holds no .npy samples") && e.getMessage().contains("y"), e.getMessage());

    write("y", 0, Nd4j.zeros(1, 4));
    write("y", 1, Nd4j.zeros(1, 4));
    e = assertThrows(DataException.class, () -> SampleSet.open(tmp, List.of(X, Y)));
    assertTrue(e.getMessage().contains("'y' has 2 samples but 'x' has 1"), e.getMessage());

    write("x", 1, Nd4j.zeros(1, 3, 2));
    SampleSet s = SampleSet.open(tmp, List.of(X, Y));
    e = assertThrows(DataException.class, () -> s.sample(1));
    assertTrue(e.getMessage().contains("1.npy (sample 1)") && e.getMessage().contains("[1, 3, 2]"), e.getMessage());

    write("x", 1, Nd4j.zeros(DataType.DOUBLE, 1, 2, 3));
    e = assertThrows(DataException.class, () -> s.sample(1));
    assertTrue(e.getMessage().contains("DOUBLE") && e.getMessage().contains("sample 1"), e.getMessage());

    INDArray nan = Nd4j.zeros(1, 2, 3);
    nan.putScalar(new long[] {0, 1, 2}, Float.NaN);
    write("x", 1, nan);
    e = assertThrows(DataException.class, () -> s.batch(0, 2));
    assertTrue(e.getMessage().contains("sample 1") && e.getMessage().contains("NaN"), e.getMessage());
  }
}
