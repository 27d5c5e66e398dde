package dev.qdebug.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.ModelException;
import dev.qdebug.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelTest {
  @TempDir Path tmp;

  static OnnxModel reluModel() {
    return TestModels.graph()
        .input("x", -1, 4)
        .output("y", -1, 4)
        .node("Relu", "", new String[] {"x"}, new String[] {"r"})
        .node("Relu", "", new String[] {"r"}, new String[] {"y"})
        .model();
  }

  @Test
  void saveThenLoadKeepsTheGraph() {
    OnnxModel m = reluModel();
    Path p = tmp.resolve("m.onnx");
    m.save(p);
    OnnxModel back = OnnxModel.load(p);
    assertEquals(m.proto(), back.proto());
    assertEquals(2, back.nodes().size());
    assertEquals("x", back.inputs().get(0).name());
    assertEquals(-1, back.inputs().get(0).shape()[0]);
    assertEquals("N", back.inputs().get(0).dimNames().get(0));
    assertEquals(13, back.opset());
  }

  @Test
  void unnamedNodesGetUniqueNames() {
    OnnxModel m = reluModel();
    assertEquals("Relu_0", m.nodes().get(0).name());
    assertEquals("Relu_1", m.nodes().get(1).name());
  }

  @Test
  void wrongNodeNameListsClosest() {
    ModelException e = assertThrows(ModelException.class, () -> reluModel().node("relu_1"));
    assertTrue(e.getMessage().contains("Relu_1"), e.getMessage());
  }

  @Test
  void refusesToOverwriteItsInput() throws Exception {
    Path p = tmp.resolve("in.onnx");
    reluModel().save(p);
    byte[] before = Files.readAllBytes(p);
    OnnxModel m = OnnxModel.load(p);
    ModelException e = assertThrows(ModelException.class, () -> m.save(p));
    assertTrue(e.getMessage().contains("in.onnx") && e.getMessage().contains("overwrite"));
    assertTrue(Arrays.equals(before, Files.readAllBytes(p)));
    assertEquals(1, Files.list(tmp).count(), "no temporary file may be left behind");
  }

  @Test
  void truncatedFileIsNamed() throws Exception {
    Path p = tmp.resolve("full.onnx");
    reluModel().save(p);
    byte[] bytes = Files.readAllBytes(p);
    Path cut = tmp.resolve("cut.onnx");
    Files.write(cut, Arrays.copyOf(bytes, bytes.length / 2));
    ModelException e = assertThrows(ModelException.class, () -> OnnxModel.load(cut));
    assertTrue(e.getMessage().contains("cut.onnx"), e.getMessage());
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void missingAndNonModelFilesAreNamed() throws Exception {
    ModelException e =
        assertThrows(ModelException.class, () -> OnnxModel.load(tmp.resolve("nope.onnx")));
    assertTrue(e.getMessage().contains("nope.onnx") && e.getMessage().contains("no such file"));
    Path text = tmp.resolve("notes.onnx");
    Files.writeString(text, "this is not protobuf at all, just text\n");
    e = assertThrows(ModelException.class, () -> OnnxModel.load(text));
    assertTrue(e.getMessage().contains("notes.onnx"), e.getMessage());
  }

  @Test
  void externalDataMayNotLeaveTheFolder() {
    Path dir = tmp.resolve("m");
    for (String loc : new String[] {"../secret.bin", "/etc/passwd", "a/../../x.bin"}) {
      ModelException e =
          assertThrows(ModelException.class, () -> OnnxModel.confined(dir, loc, "tensor 'w'"));
      assertTrue(e.getMessage().contains("tensor 'w'") && e.getMessage().contains(loc), e.getMessage());
    }
  }
}
