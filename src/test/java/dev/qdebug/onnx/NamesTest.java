package dev.qdebug.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class NamesTest {
  @Test
  void typosAndLongExportedNames() {
    List<String> nodes =
        List.of(
            "/net/features/features.3/Relu",
            "/net/features/features.3/fused/Conv",
            "/net/features/features.13/fused/Conv",
            "convA",
            "convB");
    assertEquals("convB", Names.closest("conv_b", nodes, 1).get(0));
    assertEquals(
        "/net/features/features.3/fused/Conv",
        Names.closest("/net/features/features.3/Conv", nodes, 1).get(0));
    assertEquals(3, Names.closest("x", nodes, 3).size());
  }
}
