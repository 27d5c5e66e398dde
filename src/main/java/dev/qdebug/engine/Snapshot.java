package dev.qdebug.engine;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The value of every tensor of one run of a {@link Session} (made by {@link Session#snapshot}),
 * so that later runs that change a few tensors re-execute only what lies downstream of them
 * ({@link Session#rerun}). Sensitivity sweeps switch on one calibration node at a time: each
 * re-runs the graph below that node only, from the float values kept here.
 */
public final class Snapshot implements AutoCloseable {
  private final Plan plan;
  private final INDArray[] values;
  private final Map<String, INDArray> inputs;

  Snapshot(Plan plan, INDArray[] values, Map<String, INDArray> inputs) {
    this.plan = plan;
    this.values = values;
    this.inputs = inputs;
  }

  /**
   * Frees the off-heap memory of the tensors this run computed now, rather than when the garbage
   * collector finds them (constants and the given inputs stay), and returns it to the operating
   * system ({@link MemoryBudget#trim}); {@link #get} fails afterwards.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    plan.release(values, inputs.values());
    // glibc keeps what ND4J just freed resident (a batch's tensors: hundreds of MiB on a
    // full-size model) and hands it out again only to the thread that freed it: give it back
    MemoryBudget.trim();
  }

  private boolean closed;

  /**
   * The value of {@code tensor} in this run, as the run made it: possibly a strided view (a
   * convolution's output is channels-last, see {@link TensorHook}); read it through INDArray's
   * methods, or {@code dup('c')} before touching its buffer.
   */
  public INDArray get(String tensor) {
    if (closed) {
      throw new IllegalStateException("this Snapshot is closed");
    }
    INDArray v = values[plan.slotOf(tensor)];
    if (v == null && !plan.isConstant(tensor)) {
      throw new IllegalStateException("the snapshot did not keep tensor '" + tensor + "'");
    }
    return v;
  }

  /** The inputs the run was made with. */
  public Map<String, INDArray> inputs() {
    return inputs;
  }

  Plan plan() {
    return plan;
  }

  /**
   * Bytes of the tensors this run computed (graph inputs and node outputs; constants excluded,
   * arrays sharing a buffer counted once): what keeping the snapshot costs.
   */
  public long bytes() {
    return plan.tensorBytes(values);
  }

  INDArray[] values() {
    return values;
  }
}
