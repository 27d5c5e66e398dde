package dev.qdebug.engine;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The value of every tensor of one run of a {@link Session} (made by {@link Session#snapshot}),
 * so that later runs that change a few tensors re-execute only what lies downstream of them
 * ({@link Session#rerun}). Sensitivity sweeps switch on one calibration node at a time: each
 * re-runs the graph below that node only, from the float values kept here.
 */
public final class Snapshot {
  private final Plan plan;
  private final INDArray[] values;
  private final Map<String, INDArray> inputs;

  Snapshot(Plan plan, INDArray[] values, Map<String, INDArray> inputs) {
    this.plan = plan;
    this.values = values;
    this.inputs = inputs;
  }

  /** The value of {@code tensor} in this run. */
  public INDArray get(String tensor) {
    return values[plan.slotOf(tensor)];
  }

  /** The inputs the run was made with. */
  public Map<String, INDArray> inputs() {
    return inputs;
  }

  Plan plan() {
    return plan;
  }

  INDArray[] values() {
    return values;
  }
}
