package dev.qdebug.quant;

import dev.qdebug.ModelException;
import dev.qdebug.engine.Plan;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Session;
import dev.qdebug.engine.Snapshot;
import dev.qdebug.engine.TensorHook;
import dev.qdebug.engine.Workspaces;
import dev.qdebug.onnx.Names;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A float model plus one {@link CalibrationNode} per quantized tensor, each with an on/off switch.
 * With every node on it runs as the calibrated (fake-quantized) model, with every node off as the
 * float model; any subset in between is a partially quantized model. Node and tensor names are
 * the float model's, so float and quantized runs compare name by name.
 *
 * <pre>{@code
 * try (CalibratedModel m = CalibratedModel.load(Path.of("cal.onnx"))) {   // QDQ or Horizon
 *   Map<String, INDArray> q = m.run(inputs);                              // switches as loaded
 *   Map<String, INDArray> f = m.run(inputs, Set.of(), RunOptions.defaults()); // float
 *   m.save(Path.of("partial.onnx"));                                      // QDQ, enabled nodes
 * }
 * }</pre>
 */
public final class CalibratedModel implements AutoCloseable {
  private final OnnxModel floatModel;
  private final Session session;
  private final Map<String, CalibrationNode> nodes = new LinkedHashMap<>();
  private final Map<String, CalibrationNode> byTensor = new LinkedHashMap<>();
  private final Set<String> enabled = new LinkedHashSet<>();
  private final Map<CalibrationNode, INDArray> weightCache = new ConcurrentHashMap<>();

  /**
   * A calibrated model over {@code floatModel}.
   *
   * @param nodes in any order; they are kept in the order their tensors are produced
   * @param enabledNodes names of the nodes switched on
   */
  public CalibratedModel(
      OnnxModel floatModel, Collection<CalibrationNode> nodes, Collection<String> enabledNodes) {
    this.floatModel = floatModel;
    this.session = Session.open(floatModel);
    Map<String, CalibrationNode> given = new LinkedHashMap<>();
    for (CalibrationNode n : nodes) {
      session.plan().slotOf(n.tensor()); // fails naming the tensor when it does not exist
      if (given.put(n.tensor(), n) != null) {
        throw new ModelException(
            floatModel.source() + ": two calibration nodes quantize tensor '" + n.tensor() + "'");
      }
    }
    for (String t : tensorOrder()) {
      CalibrationNode n = given.remove(t);
      if (n != null) {
        this.nodes.put(n.name(), n);
        byTensor.put(t, n);
      }
    }
    for (CalibrationNode n : given.values()) { // tensors in no order list (unused constants)
      this.nodes.put(n.name(), n);
      byTensor.put(n.tensor(), n);
    }
    for (String name : enabledNodes) {
      enabled.add(node(name).name());
    }
  }

  /** Graph order of tensors: graph inputs, then each step's inputs and outputs as it runs. */
  private List<String> tensorOrder() {
    Plan plan = session.plan();
    Set<String> order = new LinkedHashSet<>();
    floatModel.inputs().forEach(v -> order.add(v.name()));
    for (Plan.Step s : plan.steps()) {
      for (String in : s.node().inputs()) {
        if (!in.isEmpty()) {
          order.add(in);
        }
      }
      order.addAll(s.node().outputs());
    }
    return new ArrayList<>(order);
  }

  /**
   * Loads a calibrated model: standard ONNX QuantizeLinear/DequantizeLinear pairs (from qdebug,
   * ONNX Runtime's quantize_static, PyTorch), Horizon {@code HzCalibration} nodes, or a plain
   * float model (no calibration nodes).
   */
  public static CalibratedModel load(Path file) {
    return of(OnnxModel.load(file));
  }

  /** The calibrated view of {@code model}, whatever its format (see {@link #load}). */
  public static CalibratedModel of(OnnxModel model) {
    boolean horizon = model.nodes().stream().anyMatch(n -> n.opType().equals("HzCalibration"));
    return horizon ? HorizonFormat.read(model) : QdqFormat.read(model);
  }

  /** The float model: the graph without any quantization. */
  public OnnxModel floatModel() {
    return floatModel;
  }

  /** The session that runs the float graph (hooks add the quantization). */
  public Session session() {
    return session;
  }

  /** Every calibration node, in the order its tensor is produced. */
  public List<CalibrationNode> nodes() {
    return List.copyOf(nodes.values());
  }

  /**
   * The calibration node named {@code name} (or quantizing the tensor named {@code name}).
   *
   * @throws ModelException listing the closest names when there is none
   */
  public CalibrationNode node(String name) {
    CalibrationNode n = nodes.get(name);
    if (n == null) {
      n = byTensor.get(name);
    }
    if (n == null) {
      throw new ModelException(
          floatModel.source()
              + ": no calibration node '"
              + name
              + "'; closest: "
              + Names.closest(name, nodes.keySet(), 5));
    }
    return n;
  }

  /** The node quantizing {@code tensor}, if any. */
  public java.util.Optional<CalibrationNode> nodeOfTensor(String tensor) {
    return java.util.Optional.ofNullable(byTensor.get(tensor));
  }

  /**
   * The calibration nodes on the inputs of graph node {@code node} (weights and activations), as
   * Horizon means "quantize node X"; a calibration node's own name gives itself.
   *
   * @throws ModelException listing the closest names when {@code node} is neither
   */
  public List<CalibrationNode> calibrationsOf(String node) {
    if (nodes.containsKey(node)) {
      return List.of(nodes.get(node));
    }
    OnnxNode n =
        floatModel
            .findNode(node)
            .orElseThrow(
                () -> {
                  List<String> all = new ArrayList<>(nodes.keySet());
                  floatModel.nodes().forEach(x -> all.add(x.name()));
                  return new ModelException(
                      floatModel.source()
                          + ": no node or calibration node named '"
                          + node
                          + "'; closest: "
                          + Names.closest(node, all, 5));
                });
    List<CalibrationNode> out = new ArrayList<>();
    for (String in : n.inputs()) {
      CalibrationNode c = byTensor.get(in);
      if (c != null && !out.contains(c)) {
        out.add(c);
      }
    }
    return out;
  }

  /** Names of the nodes switched on. */
  public Set<String> enabled() {
    return Collections.unmodifiableSet(new LinkedHashSet<>(enabled));
  }

  /** Switches node {@code name} on or off. */
  public CalibratedModel setEnabled(String name, boolean on) {
    String n = node(name).name();
    if (on) {
      enabled.add(n);
    } else {
      enabled.remove(n);
    }
    return this;
  }

  /** Switches every node on. */
  public CalibratedModel enableAll() {
    enabled.addAll(nodes.keySet());
    return this;
  }

  /** Switches every node off (the float model). */
  public CalibratedModel disableAll() {
    enabled.clear();
    return this;
  }

  /** Replaces node {@code name} (same tensor) with {@code replacement}, e.g. raised to int16. */
  public CalibratedModel replace(CalibrationNode replacement) {
    CalibrationNode old = node(replacement.name());
    if (!old.tensor().equals(replacement.tensor())) {
      throw new IllegalArgumentException("replacement quantizes another tensor");
    }
    nodes.put(old.name(), replacement);
    byTensor.put(old.tensor(), replacement);
    if (!old.equals(replacement)) {
      weightCache.remove(old); // its fake-quantized weight is not used any more
    }
    return this;
  }

  /** Runs with the current switches; returns the graph outputs. */
  public Map<String, INDArray> run(Map<String, INDArray> inputs) {
    return run(inputs, enabled, RunOptions.defaults());
  }

  /**
   * Runs with exactly the nodes {@code enabledNodes} switched on (the model's own switches are
   * not used or changed). {@code options.hook()} sees tensors after fake quantization.
   */
  public Map<String, INDArray> run(
      Map<String, INDArray> inputs, Collection<String> enabledNodes, RunOptions options) {
    TensorHook q = hook(enabledNodes);
    return session.run(inputs, options.hook(q.andThen(options.hook())));
  }

  /** A float run keeping every tensor, to start {@link #rerun} sweeps from. */
  public Snapshot floatSnapshot(Map<String, INDArray> inputs) {
    return session.snapshot(inputs);
  }

  /**
   * A float run keeping only what {@link #rerun} with any of {@code variants} (sets of calibration
   * node names) needs, plus the tensors {@code keep}: memory for the re-run subgraph's inputs, not
   * for every tensor.
   */
  public Snapshot floatSnapshot(
      Map<String, INDArray> inputs,
      Collection<? extends Collection<String>> variants,
      Collection<String> keep) {
    Set<String> changed = new LinkedHashSet<>();
    for (Collection<String> v : variants) {
      for (String n : v) {
        changed.add(node(n).tensor());
      }
    }
    return session.snapshot(inputs, changed, keep);
  }

  /**
   * The same as {@link #run(Map, Collection, RunOptions)} on {@code floatBase}'s inputs, but
   * re-executing only the graph downstream of the enabled nodes' tensors, from the float values
   * in {@code floatBase}.
   */
  public Map<String, INDArray> rerun(
      Snapshot floatBase, Collection<String> enabledNodes, RunOptions options) {
    List<String> changed = new ArrayList<>();
    for (String n : enabledNodes) {
      changed.add(node(n).tensor());
    }
    TensorHook q = hook(enabledNodes);
    return session.rerun(floatBase, changed, options.hook(q.andThen(options.hook())));
  }

  /** The hook that fake-quantizes the tensors of {@code enabledNodes}. */
  public TensorHook hook(Collection<String> enabledNodes) {
    Map<String, CalibrationNode> active = new LinkedHashMap<>();
    for (String name : enabledNodes) {
      CalibrationNode n = node(name);
      active.put(n.tensor(), n);
    }
    if (active.isEmpty()) {
      return TensorHook.NONE;
    }
    // declares the tensors it quantizes: the run calls it for those only, and may use fused
    // steps wherever they skip none of them; an activation the run owns is quantized in place
    TensorHook quantize =
        new TensorHook() {
          @Override
          public INDArray onTensor(String tensor, INDArray value) {
            return quantize(active, tensor, value, false);
          }

          @Override
          public INDArray onOwnedTensor(String tensor, INDArray value) {
            return quantize(active, tensor, value, true);
          }
        };
    return TensorHook.only(active.keySet(), quantize);
  }

  private INDArray quantize(
      Map<String, CalibrationNode> active, String tensor, INDArray value, boolean owned) {
    CalibrationNode n = active.get(tensor);
    if (n == null) {
      return value;
    }
    if (n.kind() == TensorKind.WEIGHT) {
      // kept across runs (and sessions): outside the session's workspace
      return weightCache.computeIfAbsent(
          n, k -> Workspaces.outside(() -> FakeQuant.apply(value, k.params())));
    }
    INDArray q =
        owned
            ? FakeQuant.applyInPlaceIfFinite(value, n.params())
            : FakeQuant.applyIfFinite(value, n.params());
    if (q == null) {
      throw Calibrator.nonFinite( // e.g. finite samples that overflow float32 inside the model
          value, tensor, floatModel().source() + ": calibration node '" + n.name() + "': tensor",
          "the input overflows float32 inside the model");
    }
    return q;
  }

  /**
   * Writes standard ONNX QDQ with the nodes switched on now, atomically; refuses to overwrite the
   * file the model was loaded from.
   */
  public void save(Path file) {
    save(file, enabled);
  }

  /** Writes standard ONNX QDQ with {@code enabledNodes} quantized (the rest stays float). */
  public void save(Path file, Collection<String> enabledNodes) {
    List<CalibrationNode> on = new ArrayList<>();
    for (String n : enabledNodes) {
      on.add(node(n));
    }
    OnnxModel out = floatModel.with(QdqFormat.write(floatModel, on));
    out.save(file);
  }

  @Override
  public void close() {
    session.close();
  }
}
