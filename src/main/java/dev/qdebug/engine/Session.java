package dev.qdebug.engine;

import dev.qdebug.DataException;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.ValueInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runs one compiled model. The three-step path:
 *
 * <pre>{@code
 * try (Session s = Session.open(Path.of("model.onnx"))) {
 *   Map<String, INDArray> out = s.run(Map.of("input", x));                 // graph outputs
 *   Map<String, INDArray> taps = s.run(Map.of("input", x),
 *       RunOptions.outputs("conv1_out").hook(myHook));                      // any tensor, hooked
 * }
 * }</pre>
 *
 * Inputs carry a batch dimension (the first); a model declaring a fixed size there still runs any
 * batch. Other dimensions and the element type must match the model's declaration. A session is
 * not thread-safe; use one per thread.
 */
public final class Session implements AutoCloseable {
  private final Plan plan;
  private boolean closed;

  private Session(Plan plan) {
    this.plan = plan;
  }

  /** Compiles {@code model} with every standard op. */
  public static Session open(OnnxModel model) {
    return new Session(new Plan(model, OpRegistry.standard()));
  }

  /** Loads and compiles the model file at {@code path}. */
  public static Session open(Path path) {
    return open(OnnxModel.load(path));
  }

  public OnnxModel model() {
    return plan.model();
  }

  /** The compiled plan (steps, tensor names, constants). */
  public Plan plan() {
    return plan;
  }

  public List<ValueInfo> inputs() {
    return plan.model().inputs();
  }

  public List<ValueInfo> outputs() {
    return plan.model().outputs();
  }

  /** Runs the model and returns its graph outputs by name, in declaration order. */
  public Map<String, INDArray> run(Map<String, INDArray> inputs) {
    return run(inputs, RunOptions.defaults());
  }

  /**
   * Runs the model with {@code options}: which tensors to return (graph outputs by default) and
   * a hook that sees, and may replace, every tensor.
   *
   * @throws DataException naming the input for an unknown or missing input, or a wrong element
   *     type, rank or size
   */
  public Map<String, INDArray> run(Map<String, INDArray> inputs, RunOptions options) {
    checkOpen();
    INDArray[] feeds = feeds(inputs);
    List<String> names = options.outputs();
    if (names.isEmpty()) {
      names = outputs().stream().map(ValueInfo::name).toList();
    }
    int[] wanted = plan.slotsOf(names);
    INDArray[] values = plan.run(feeds, wanted, options.hook());
    Map<String, INDArray> result = new LinkedHashMap<>();
    for (int i = 0; i < wanted.length; i++) {
      result.put(names.get(i), values[i]);
    }
    return result;
  }

  /**
   * Runs without hooks and keeps every tensor's value, for {@link #rerun}. Memory: every
   * intermediate tensor of the batch stays alive as long as the snapshot does.
   */
  public Snapshot snapshot(Map<String, INDArray> inputs) {
    checkOpen();
    return new Snapshot(plan, plan.runAll(feeds(inputs)), Map.copyOf(inputs));
  }

  /**
   * Re-runs only the part of the graph downstream of {@code changedTensors}, starting from {@code
   * base}: each changed tensor's base value goes through the hook of {@code options}, then only
   * the nodes that read a changed or recomputed tensor run (their hook applies to what they
   * produce). Tensors upstream or beside the change keep their base values and do not go through
   * the hook. Gives the same result as a full run whose hook changes only {@code changedTensors}.
   */
  public Map<String, INDArray> rerun(
      Snapshot base, java.util.Collection<String> changedTensors, RunOptions options) {
    checkOpen();
    if (base.plan() != plan) {
      throw new IllegalArgumentException("the snapshot belongs to another session");
    }
    boolean[] changed = new boolean[plan.tensorNames().size()];
    for (String t : changedTensors) {
      changed[plan.slotOf(t)] = true;
    }
    List<String> names = options.outputs();
    if (names.isEmpty()) {
      names = outputs().stream().map(ValueInfo::name).toList();
    }
    int[] wanted = plan.slotsOf(names);
    INDArray[] values = plan.rerun(base.values(), changed, wanted, options.hook());
    Map<String, INDArray> result = new LinkedHashMap<>();
    for (int i = 0; i < wanted.length; i++) {
      result.put(names.get(i), values[i]);
    }
    return result;
  }

  private INDArray[] feeds(Map<String, INDArray> inputs) {
    List<ValueInfo> declared = inputs();
    List<String> expected = declared.stream().map(ValueInfo::name).toList();
    for (String name : inputs.keySet()) {
      if (!expected.contains(name)) {
        throw new DataException(
            plan.model().source() + ": unknown input '" + name + "', expected one of " + expected);
      }
    }
    INDArray[] feeds = new INDArray[declared.size()];
    List<String> missing = new ArrayList<>();
    for (int i = 0; i < feeds.length; i++) {
      ValueInfo v = declared.get(i);
      INDArray x = inputs.get(v.name());
      if (x == null) {
        missing.add(v.name());
        continue;
      }
      check(v, x);
      feeds[i] = x;
    }
    if (!missing.isEmpty()) {
      throw new DataException(
          plan.model().source() + ": missing input " + missing + ", the model needs " + expected);
    }
    return feeds;
  }

  private void check(ValueInfo v, INDArray x) {
    String what = plan.model().source() + ": input '" + v.name() + "'";
    if (v.type() != ElemType.UNDEFINED) {
      ElemType got = Tensors.elemType(x.dataType());
      if (got != v.type()) {
        throw new DataException(what + " has element type " + got + ", expected " + v.type());
      }
    }
    if (!v.hasShape()) {
      return;
    }
    long[] want = v.shape();
    long[] got = x.shape();
    boolean ok = want.length == got.length;
    for (int d = 1; ok && d < want.length; d++) {
      ok = want[d] < 0 || want[d] == got[d];
    }
    if (!ok) {
      throw new DataException(
          what
              + " has shape "
              + Arrays.toString(got)
              + ", expected "
              + describe(v)
              + " (the first dimension is the batch and may differ)");
    }
  }

  private static String describe(ValueInfo v) {
    StringBuilder b = new StringBuilder("[");
    for (int d = 0; d < v.shape().length; d++) {
      b.append(d == 0 ? "" : ", ");
      String n = v.dimNames().size() > d ? v.dimNames().get(d) : "";
      b.append(v.shape()[d] >= 0 ? String.valueOf(v.shape()[d]) : n.isEmpty() ? "?" : n);
    }
    return b.append("]").toString();
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("this Session is closed");
    }
  }

  /** Releases the session; later calls to {@link #run} fail. */
  @Override
  public void close() {
    closed = true;
  }
}
