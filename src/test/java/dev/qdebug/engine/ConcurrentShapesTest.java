package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.qdebug.TestModels;
import dev.qdebug.onnx.OnnxModel;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One plan run on two threads at once with inputs of different shapes (top-1 passes run batches
 * of different sizes side by side): ops that cache what they derive from an input's shape (PRelu's
 * broadcast slope) give each thread the values of its own shape.
 */
class ConcurrentShapesTest {
  @Test
  void preluOnTwoThreadsWithDifferentShapesGivesWhatOneThreadGives() throws Exception {
    OnnxModel m =
        OnnxModel.of(
            TestModels.graph()
                .input("x", -1, 3, -1, -1)
                .initializer("slope", new float[] {0.1f, 0.2f, 0.3f}, 3, 1, 1)
                .node("PRelu", "prelu", new String[] {"x", "slope"}, new String[] {"y"})
                .output("y", -1, 3, -1, -1)
                .proto(),
            "prelu-shapes");
    Nd4j.getRandom().setSeed(9);
    Map<String, INDArray> a = Map.of("x", Nd4j.randn(DataType.FLOAT, 2, 3, 5, 7));
    Map<String, INDArray> b = Map.of("x", Nd4j.randn(DataType.FLOAT, 1, 3, 9, 4));
    try (Session s = Session.open(m)) {
      INDArray wantA = s.run(a).get("y");
      INDArray wantB = s.run(b).get("y");
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread other =
          new Thread(
              () -> {
                try {
                  for (int i = 0; i < 500; i++) {
                    assertEquals(wantB, s.run(b).get("y"));
                  }
                } catch (Throwable e) {
                  failure.set(e);
                } finally {
                  s.releaseWorkspace();
                }
              });
      other.start();
      for (int i = 0; i < 500; i++) {
        assertEquals(wantA, s.run(a).get("y"));
      }
      other.join();
      if (failure.get() != null) {
        throw new AssertionError("the other thread", failure.get());
      }
    }
  }
}
