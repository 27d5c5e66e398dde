package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.qdebug.TestModels;
import dev.qdebug.onnx.OnnxModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A hook gets as owned ({@link TensorHook#onOwnedTensor}) exactly the values it may overwrite: a
 * fresh op output, not a view of another tensor or an op's input passed through; overwriting them
 * gives what copying gives, in full runs and in re-runs.
 */
class OwnedTensorTest {
  /** x -> Relu -> r; r -> Flatten -> f (a view of r) -> Identity -> w -> Mul(w, 2) -> y; Sigmoid(r) -> s. */
  static OnnxModel model() {
    return OnnxModel.of(
        TestModels.graph()
            .input("x", -1, 4, 3, 3)
            .initializer("two", new float[] {2f})
            .node("Relu", "relu", new String[] {"x"}, new String[] {"r"})
            .node("Flatten", "flatten", new String[] {"r"}, new String[] {"f"})
            .node("Identity", "identity", new String[] {"f"}, new String[] {"w"})
            .node("Mul", "mul", new String[] {"w", "two"}, new String[] {"y"})
            .node("Sigmoid", "sigmoid", new String[] {"r"}, new String[] {"s"})
            .output("y", -1, 36)
            .output("s", -1, 4, 3, 3)
            .proto(),
        "owned");
  }

  /** Halves the tensors of {@code on}; in place when owned unless {@code copyOnly}; logs each call. */
  static TensorHook halving(Set<String> on, List<String> log, boolean copyOnly) {
    return new TensorHook() {
      @Override
      public INDArray onTensor(String tensor, INDArray value) {
        log.add(tensor + ":copy");
        return value.mul(0.5);
      }

      @Override
      public INDArray onOwnedTensor(String tensor, INDArray value) {
        if (copyOnly) {
          return onTensor(tensor, value);
        }
        log.add(tensor + ":owned");
        return value.muli(0.5);
      }

      @Override
      public boolean touches(String tensor) {
        return on.contains(tensor);
      }
    };
  }

  @Test
  void onlyFreshOutputsAreOwnedAndOverwritingThemChangesNothingElse() {
    Nd4j.getRandom().setSeed(5);
    Map<String, INDArray> in = Map.of("x", Nd4j.randn(DataType.FLOAT, 2, 4, 3, 3));
    Set<String> on = Set.of("r", "f", "w", "y");
    try (Session s = Session.open(model())) {
      List<String> log = new ArrayList<>();
      List<String> refLog = new ArrayList<>();
      for (int round = 0; round < 2; round++) { // the second run in the reused workspace
        log.clear();
        Map<String, INDArray> got = s.run(in, RunOptions.hooked(halving(on, log, false)));
        Map<String, INDArray> want = s.run(in, RunOptions.hooked(halving(on, refLog, true)));
        assertEquals(List.of("r:owned", "f:copy", "w:copy", "y:owned"), log);
        assertEquals(want.get("y"), got.get("y"));
        assertEquals(want.get("s"), got.get("s"), "Sigmoid read r, not r halved twice through f");
      }
      // through andThen and only(): the first hook touching the tensor gets it owned
      log.clear();
      List<String> second = new ArrayList<>();
      s.run(in, RunOptions.hooked(TensorHook.only(Set.of("r"), halving(on, log, false))
          .andThen(halving(Set.of("r", "y"), second, false))));
      assertEquals(List.of("r:owned"), log);
      assertEquals(List.of("r:copy", "y:owned"), second);

      // a re-run: the changed tensor's base value is the snapshot's (never owned)
      try (Snapshot base = s.snapshot(in)) {
        log.clear();
        Map<String, INDArray> got =
            s.rerun(base, List.of("r"), RunOptions.hooked(halving(on, log, false)));
        Map<String, INDArray> want =
            s.rerun(base, List.of("r"), RunOptions.hooked(halving(on, new ArrayList<>(), true)));
        assertEquals(List.of("r:copy", "f:copy", "w:copy", "y:owned"), log);
        assertEquals(want.get("y"), got.get("y"));
        assertEquals(want.get("s"), got.get("s"));
        Map<String, INDArray> again =
            s.rerun(base, List.of("r"), RunOptions.hooked(halving(on, new ArrayList<>(), true)));
        assertEquals(want.get("s"), again.get("s"), "the snapshot was not overwritten");
      }
    }
  }
}
