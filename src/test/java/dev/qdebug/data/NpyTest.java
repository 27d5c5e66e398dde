package dev.qdebug.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.DataException;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Reads files written by NumPy itself (see src/test/resources/npy/README.md). */
class NpyTest {
  @TempDir Path tmp;

  static Path res(String name) throws URISyntaxException {
    return Path.of(NpyTest.class.getResource("/npy/" + name).toURI());
  }

  @Test
  void readsNumpyFiles() throws Exception {
    INDArray f = Npy.read(res("f32_2x3.npy"));
    assertEquals(DataType.FLOAT, f.dataType());
    assertArrayEquals(new long[] {2, 3}, f.shape());
    assertEquals(1.25f, f.getFloat(1, 2));
    assertArrayEquals(new double[] {1.5, -2.25, 3e10}, Npy.read(res("f64_3.npy")).toDoubleVector());
    INDArray i = Npy.read(res("i64_4.npy"));
    assertEquals(DataType.LONG, i.dataType());
    assertArrayEquals(new long[] {1, -2, 3, 1L << 40}, i.toLongVector());
    INDArray u = Npy.read(res("u8_2x2.npy"));
    assertEquals(DataType.UBYTE, u.dataType());
    assertArrayEquals(new long[] {0, 255, 7, 128}, u.dup('c').data().asLong());
    INDArray b = Npy.read(res("bool_3.npy"));
    assertEquals(DataType.BOOL, b.dataType());
    assertArrayEquals(new long[] {1, 0, 1}, b.dup('c').data().asLong());
    INDArray fo = Npy.read(res("fortran_2x3.npy"));
    assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, fo.dup('c').data().asFloat());
    assertArrayEquals(new float[] {1f, -0.5f, 2f}, Npy.read(res("big_endian_f4.npy")).toFloatVector());
    INDArray s = Npy.read(res("scalar_f4.npy"));
    assertEquals(0, s.rank());
    assertEquals(3.5f, s.getFloat(0));
    assertArrayEquals(
        new float[] {0.5f, -65504f},
        Npy.read(res("f16_2.npy")).castTo(DataType.FLOAT).toFloatVector());
  }

  @Test
  void writesWhatItReads() {
    INDArray a = Nd4j.createFromArray(new float[] {1, 2, 3, 4, 5, 6}).reshape(1, 2, 3);
    Path p = tmp.resolve("a.npy");
    Npy.write(p, a);
    INDArray back = Npy.read(p);
    assertArrayEquals(a.shape(), back.shape());
    assertArrayEquals(a.dup('c').data().asFloat(), back.dup('c').data().asFloat());
    INDArray l = Nd4j.createFromArray(new long[] {7, -8});
    Npy.write(p, l);
    assertArrayEquals(new long[] {7, -8}, Npy.read(p).toLongVector());
  }

  @Test
  void writtenHeaderIsNumpyCompatible() throws IOException {
    Path p = tmp.resolve("h.npy");
    Npy.write(p, Nd4j.createFromArray(new float[] {1, 2, 3}));
    byte[] bytes = Files.readAllBytes(p);
    int headerLen = (bytes[8] & 0xff) | (bytes[9] & 0xff) << 8;
    assertEquals(0, (10 + headerLen) % 64, "data must start on a 64-byte boundary");
    String header = new String(bytes, 10, headerLen);
    assertTrue(header.contains("'shape': (3,)"), header);
    assertEquals('\n', header.charAt(header.length() - 1));
  }

  @Test
  void badFilesNameTheFile() throws Exception {
    Path missing = tmp.resolve("missing.npy");
    DataException e = assertThrows(DataException.class, () -> Npy.read(missing));
    assertTrue(e.getMessage().contains("missing.npy"), e.getMessage());

    byte[] good = Files.readAllBytes(res("f32_2x3.npy"));
    Path truncated = tmp.resolve("truncated.npy");
    Files.write(truncated, Arrays.copyOf(good, good.length - 5));
    e = assertThrows(DataException.class, () -> Npy.read(truncated));
    assertTrue(e.getMessage().contains("truncated.npy") && e.getMessage().contains("truncated"));

    Path notNpy = tmp.resolve("text.npy");
    Files.writeString(notNpy, "hello");
    e = assertThrows(DataException.class, () -> Npy.read(notNpy));
    assertTrue(e.getMessage().contains("text.npy") && e.getMessage().contains("magic"));

    e = assertThrows(DataException.class, () -> Npy.read(res("complex.npy")));
    assertTrue(e.getMessage().contains("complex.npy") && e.getMessage().contains("<c16"));
  }
}
