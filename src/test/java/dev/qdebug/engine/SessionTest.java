package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.DataException;
import dev.qdebug.ModelException;
import dev.qdebug.TestModels;
import dev.qdebug.onnx.OnnxModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class SessionTest {
  /** y = Identity(Identity(x)) with the middle tensor named "mid". */
  static OnnxModel chain() {
    return TestModels.graph()
        .input("x", -1, 3)
        .output("y", -1, 3)
        .node("Identity", "first", new String[] {"x"}, new String[] {"mid"})
        .node("Identity", "second", new String[] {"mid"}, new String[] {"y"})
        .model();
  }

  static INDArray x(long batch) {
    return Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, batch, 3);
  }

  @Test
  void hookSeesEveryTensorAndCanReplaceIt() {
    try (Session s = Session.open(chain())) {
      List<String> seen = new ArrayList<>();
      INDArray replacement = Nd4j.zeros(2, 3);
      Map<String, INDArray> out =
          s.run(
              Map.of("x", x(2)),
              RunOptions.hooked(
                  (name, v) -> {
                    seen.add(name);
                    return name.equals("mid") ? replacement : v;
                  }));
      assertEquals(List.of("x", "mid", "y"), seen);
      assertSame(replacement, out.get("y"));
    }
  }

  @Test
  void returnsAnyTensorAsked() {
    try (Session s = Session.open(chain())) {
      INDArray in = x(4);
      Map<String, INDArray> out = s.run(Map.of("x", in), RunOptions.outputs("mid", "y"));
      assertEquals(List.of("mid", "y"), List.copyOf(out.keySet()));
      assertArrayEquals(in.toFloatMatrix(), out.get("mid").toFloatMatrix());
      ModelException e =
          assertThrows(ModelException.class, () -> s.run(Map.of("x", in), RunOptions.outputs("midd")));
      assertTrue(e.getMessage().contains("closest: [mid,"), e.getMessage());
    }
  }

  @Test
  void badInputsAreNamed() {
    try (Session s = Session.open(chain())) {
      DataException e = assertThrows(DataException.class, () -> s.run(Map.of()));
      assertTrue(e.getMessage().contains("missing input [x]"), e.getMessage());
      e = assertThrows(DataException.class, () -> s.run(Map.of("x", x(1), "z", x(1))));
      assertTrue(e.getMessage().contains("unknown input 'z'"), e.getMessage());
      e = assertThrows(DataException.class, () -> s.run(Map.of("x", Nd4j.zeros(1, 4))));
      assertTrue(e.getMessage().contains("input 'x'") && e.getMessage().contains("[1, 4]"), e.getMessage());
      e = assertThrows(DataException.class, () -> s.run(Map.of("x", Nd4j.zeros(3))));
      assertTrue(e.getMessage().contains("[N, 3]"), e.getMessage());
      INDArray doubles = Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.DOUBLE, 1, 3);
      e = assertThrows(DataException.class, () -> s.run(Map.of("x", doubles)));
      assertTrue(e.getMessage().contains("DOUBLE") && e.getMessage().contains("FLOAT"), e.getMessage());
    }
  }

  @Test
  void unknownOpFailsAtLoadNamingOpNodeAndOpset() {
    OnnxModel m =
        TestModels.graph()
            .opset(11)
            .input("x", 1, 3)
            .output("y", 1, 3)
            .node("FancyOp", "fancy_1", new String[] {"x"}, new String[] {"y"})
            .model();
    ModelException e = assertThrows(ModelException.class, () -> Session.open(m));
    assertTrue(e.getMessage().contains("unsupported op 'FancyOp'"), e.getMessage());
    assertTrue(e.getMessage().contains("fancy_1"), e.getMessage());
    assertTrue(e.getMessage().contains("opset 11"), e.getMessage());
  }

  @Test
  void danglingInputIsNamed() {
    OnnxModel m =
        TestModels.graph()
            .input("x", 1, 3)
            .output("y", 1, 3)
            .node("Identity", "id", new String[] {"nowhere"}, new String[] {"y"})
            .model();
    ModelException e = assertThrows(ModelException.class, () -> Session.open(m));
    assertTrue(e.getMessage().contains("'nowhere'") && e.getMessage().contains("'id'"));
  }

  @Test
  void closedSessionRefusesToRun() {
    Session s = Session.open(chain());
    s.close();
    assertThrows(IllegalStateException.class, () -> s.run(Map.of("x", x(1))));
  }
}
