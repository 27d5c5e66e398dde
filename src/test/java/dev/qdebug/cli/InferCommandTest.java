package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.TestModels;
import dev.qdebug.data.Npy;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class InferCommandTest {
  @TempDir Path tmp;

  static dev.qdebug.Cli.Result cli(String... args) {
    return dev.qdebug.Cli.run(args);
  }

  Path model() {
    Path p = tmp.resolve("id.onnx");
    TestModels.graph()
        .input("in:0", -1, 3)
        .output("out/y:0", -1, 3)
        .node("Identity", "id", new String[] {"in:0"}, new String[] {"out/y:0"})
        .model()
        .save(p);
    return p;
  }

  @Test
  void writesEveryOutputWithASafeFileName() {
    Path m = model();
    INDArray x = Nd4j.createFromArray(new float[][] {{1, 2, 3}, {4, 5, 6}});
    Npy.write(tmp.resolve("x.npy"), x);
    var r =
        cli("infer", "--model", m.toString(), "--input", "in:0=" + tmp.resolve("x.npy"),
            "--output-dir", tmp.resolve("out").toString());
    assertEquals(0, r.status(), r.err());
    Path written = tmp.resolve("out/out_y_0.npy");
    assertTrue(Files.exists(written), r.out());
    assertArrayEquals(x.toFloatMatrix(), Npy.read(written).toFloatMatrix());
  }

  @Test
  void badInputExitsTwoNamingIt() {
    Path m = model();
    Npy.write(tmp.resolve("bad.npy"), Nd4j.zeros(2, 4));
    var r =
        cli("infer", "--model", m.toString(), "--input", "in:0=" + tmp.resolve("bad.npy"),
            "--output-dir", tmp.toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("input 'in:0'") && r.err().contains("[2, 4]"), r.err());
    assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());

    r = cli("infer", "--model", tmp.resolve("none.onnx").toString(), "--input", "x.npy",
        "--output-dir", tmp.toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("none.onnx"), r.err());

    r = cli("infer", "--model", m.toString(), "--output-dir", tmp.toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("--input"), r.err());
  }

  @Test
  void neverOverwritesAnInput() throws Exception {
    Path m = model();
    Path in = tmp.resolve("out_y_0.npy");
    Npy.write(in, Nd4j.zeros(1, 3));
    byte[] before = Files.readAllBytes(in);
    var r = cli("infer", "--model", m.toString(), "--input", "in:0=" + in, "--output-dir", tmp.toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("overwrite"), r.err());
    assertArrayEquals(before, Files.readAllBytes(in));
  }
}
