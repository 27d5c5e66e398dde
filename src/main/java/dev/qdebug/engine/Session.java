package dev.qdebug.engine;

import dev.qdebug.DataException;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.ValueInfo;
import java.lang.ref.Cleaner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.ResetPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

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
 *
 * <p><b>Memory.</b> Each session runs inside an ND4J workspace of its own (see {@link Workspaces}):
 * the first run learns how much memory a forward pass allocates, later runs reuse that one block,
 * so a steady-state run allocates no new off-heap memory. The block holds everything one run
 * allocates (about the sum of its tensors, not just those alive at once) and grows when a run
 * needs more (a larger batch), up to the system property {@value #MAX_BYTES_PROPERTY} (default
 * {@value #DEFAULT_MAX_BYTES} bytes; beyond it the excess is allocated and freed per run); {@link
 * #close} releases it (so does the garbage collector, late, for a session never closed). The arrays {@link #run} returns live outside the workspace; the arrays a {@link
 * TensorHook} sees live inside it and are valid only during the run. A run started from inside
 * one of its own hooks (re-entrant) allocates ordinary arrays. {@code -D}{@value
 * #WORKSPACE_PROPERTY}{@code =false} turns workspaces off for sessions opened afterwards.
 */
public final class Session implements AutoCloseable {
  /** System property: {@code false} opens sessions without a workspace. */
  public static final String WORKSPACE_PROPERTY = "qdebug.workspace";

  /** System property: the most bytes a session's workspace keeps between runs. */
  public static final String MAX_BYTES_PROPERTY = "qdebug.workspace.maxBytes";

  /** Default of {@value #MAX_BYTES_PROPERTY}: 2 GiB. */
  public static final long DEFAULT_MAX_BYTES = 2L << 30;

  private static final AtomicLong IDS = new AtomicLong();

  /** Frees the workspaces of sessions that were never closed once they are unreachable. */
  private static final Cleaner CLEANER = Cleaner.create();

  /** Open sessions with a workspace, weakly (an unreachable one is the cleaner's). */
  private static final Set<Session> OPEN =
      Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

  private final Plan plan;
  private final String workspaceId;
  private final WorkspaceConfiguration workspace;
  /** Every workspace this session activated (one per thread that ran it). */
  private final List<MemoryWorkspace> workspaces = new CopyOnWriteArrayList<>();
  private final Cleaner.Cleanable release;
  /**
   * Runs in progress on every thread (a session may run on several threads at once: each has a
   * workspace of its own), and this thread's nesting (a hook running the session again).
   */
  private final AtomicInteger running = new AtomicInteger();
  private final ThreadLocal<int[]> depth = ThreadLocal.withInitial(() -> new int[1]);
  private volatile boolean closed;

  private Session(Plan plan) {
    this.plan = plan;
    this.workspaceId = "qdebug-session-" + IDS.incrementAndGet();
    boolean on = !"false".equalsIgnoreCase(System.getProperty(WORKSPACE_PROPERTY, "true"));
    this.workspace =
        on
            ? WorkspaceConfiguration.builder()
                .initialSize(0)
                .maxSize(Long.getLong(MAX_BYTES_PROPERTY, DEFAULT_MAX_BYTES))
                .policyAllocation(AllocationPolicy.STRICT)
                .policyLearning(LearningPolicy.FIRST_LOOP)
                .policyReset(ResetPolicy.BLOCK_LEFT)
                .policySpill(SpillPolicy.REALLOCATE)
                .build()
            : null;
    this.release = CLEANER.register(this, new Release(workspaces, workspaceId));
    if (on) {
      OPEN.add(this);
    }
  }

  /** Compiles {@code model} with every standard op. */
  public static Session open(OnnxModel model) {
    // constants folded at compile time outlive every run: never in a workspace
    return new Session(Workspaces.outside(() -> new Plan(model, OpRegistry.standard())));
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
    INDArray[] values = execute(feeds, wanted, options.hook());
    Map<String, INDArray> result = new LinkedHashMap<>();
    for (int i = 0; i < wanted.length; i++) {
      result.put(names.get(i), cOrdered(values[i]));
    }
    return result;
  }

  /**
   * Runs without hooks and keeps every tensor's value, for {@link #rerun}. Memory: every
   * intermediate tensor of the batch stays alive as long as the snapshot does.
   */
  public Snapshot snapshot(Map<String, INDArray> inputs) {
    checkOpen();
    INDArray[] feeds = feeds(inputs);
    // kept across runs: never inside a workspace
    Snapshot snap =
        new Snapshot(plan, Workspaces.outside(() -> plan.runAll(feeds)), Map.copyOf(inputs));
    enforceCeiling(snap);
    return snap;
  }

  /** {@link MemoryBudget#enforce}, closing {@code snap} when it fails. */
  private static void enforceCeiling(Snapshot snap) {
    try {
      MemoryBudget.enforce();
    } catch (RuntimeException e) {
      snap.close();
      throw e;
    }
  }

  /**
   * A snapshot that keeps only what re-runs changing any subset of {@code mayChange} need (see
   * {@link #rerun}), plus {@code keep}: the tensors upstream of and beside every change are
   * dropped as the run goes, so a sweep over late nodes keeps little. {@link Snapshot#get} of a
   * dropped tensor fails.
   */
  public Snapshot snapshot(
      Map<String, INDArray> inputs,
      java.util.Collection<String> mayChange,
      java.util.Collection<String> keep) {
    checkOpen();
    INDArray[] feeds = feeds(inputs);
    boolean[] changed = new boolean[plan.tensorNames().size()];
    for (String t : mayChange) {
      changed[plan.slotOf(t)] = true;
    }
    boolean[] needed = plan.neededForRerun(changed, plan.slotsOf(keep));
    Snapshot snap =
        new Snapshot(plan, Workspaces.outside(() -> plan.runAll(feeds, needed)), Map.copyOf(inputs));
    enforceCeiling(snap);
    return snap;
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
    TensorHook hook = options.hook();
    // temporaries in the session's workspace (freed per run, not left to the garbage collector);
    // the values returned are copied out of it
    INDArray[] values = execute(() -> plan.rerun(base.values(), changed, wanted, hook));
    Map<String, INDArray> result = new LinkedHashMap<>();
    for (int i = 0; i < wanted.length; i++) {
      result.put(names.get(i), cOrdered(values[i]));
    }
    return result;
  }

  /**
   * Runs the plan in this session's workspace (or with ordinary arrays when workspaces are off or
   * the run is re-entrant) and returns {@code wanted} copied out of the workspace.
   */
  private INDArray[] execute(INDArray[] feeds, int[] wanted, TensorHook hook) {
    return execute(() -> plan.run(feeds, wanted, hook));
  }

  private INDArray[] execute(java.util.function.Supplier<INDArray[]> body) {
    boolean outer = depth.get()[0] == 0;
    if (outer) {
      MemoryBudget.enforce(); // the hard cap of --max-memory, checked around every run
    }
    INDArray[] values = executeIn(body);
    if (outer) {
      MemoryBudget.enforce();
    }
    return values;
  }

  private INDArray[] executeIn(java.util.function.Supplier<INDArray[]> body) {
    if (workspace == null) {
      return body.get();
    }
    int[] nested = depth.get();
    nested[0]++;
    running.incrementAndGet();
    try {
      if (nested[0] > 1) {
        // re-entered from one of our own hooks: our workspace holds the outer run's tensors
        return Workspaces.outside(() -> detach(body.get()));
      }
      try (MemoryWorkspace ws =
          Nd4j.getWorkspaceManager().getAndActivateWorkspace(workspace, workspaceId)) {
        if (!workspaces.contains(ws)) {
          workspaces.add(ws);
        }
        return detach(body.get());
      }
    } finally {
      nested[0]--;
      if (running.decrementAndGet() == 0 && closed) {
        release.clean();
      }
    }
  }

  /**
   * {@code v}, or a c-ordered copy of it when its values do not lie in c order at the start of its
   * buffer (a channels-last tensor, {@link dev.qdebug.engine.ops.ChannelsLast}, or a view of one
   * that Reshape or Unsqueeze made without copying): what a run returns reads in order from its
   * buffer.
   */
  private static INDArray cOrdered(INDArray v) {
    return v == null || v.isEmpty() ? v : Workspaces.outside(() -> Tensors.dense(v));
  }

  /**
   * {@code values} with every workspace array replaced by a c-ordered copy outside it (once per
   * array), so that {@link #cOrdered} copies nothing more for them.
   */
  private static INDArray[] detach(INDArray[] values) {
    INDArray[] out = values.clone();
    for (int i = 0; i < out.length; i++) {
      INDArray v = out[i];
      if (v == null || !v.isAttached()) {
        continue;
      }
      INDArray d = Workspaces.outside(() -> v.dup('c'));
      for (int j = i; j < out.length; j++) {
        if (values[j] == v) {
          out[j] = d;
        }
      }
    }
    return out;
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

  /**
   * Gives this session's workspace memory back now and keeps the session open: the next run on
   * this thread learns its size again (one run's allocations outside the block), with the same
   * results. For memory held by sessions kept between analyses (a notebook's models): a workspace
   * keeps the block of its largest run until the session closes. Does nothing while the session
   * runs; workspaces of other threads stay (ND4J's workspaces belong to the thread that made
   * them).
   *
   * @return the bytes of the blocks released
   */
  public long releaseWorkspace() {
    if (depth.get()[0] > 0 || closed) {
      return 0;
    }
    long freed = 0;
    long me = Thread.currentThread().getId();
    for (MemoryWorkspace ws : workspaces) {
      if (ws.getThreadId() == null || ws.getThreadId() != me) {
        continue;
      }
      freed += ws.getCurrentSize();
      if (Nd4j.getWorkspaceManager().checkIfWorkspaceExists(workspaceId)
          && Nd4j.getWorkspaceManager().getWorkspaceForCurrentThread(workspaceId) == ws) {
        Nd4j.getWorkspaceManager().destroyWorkspace(ws); // also forgets it for this thread
      } else {
        ws.destroyWorkspace(true);
      }
      workspaces.remove(ws);
    }
    return freed;
  }

  /**
   * {@link #releaseWorkspace} for every open session that is not running, then the C heap's free
   * memory back to the operating system ({@link MemoryBudget#trim}). The notebook kernel calls it
   * after each cell, on the thread that runs cells.
   *
   * @return the bytes of the blocks released
   */
  public static long releaseIdleWorkspaces() {
    List<Session> open;
    synchronized (OPEN) {
      open = new ArrayList<>(OPEN);
    }
    long freed = 0;
    for (Session s : open) {
      freed += s.releaseWorkspace();
    }
    if (freed > 0) {
      MemoryBudget.trim();
    }
    return freed;
  }

  /**
   * The bytes of this session's workspace block for this thread (0 when it has none): what it
   * keeps between runs.
   */
  public long workspaceBytes() {
    long me = Thread.currentThread().getId();
    long b = 0;
    for (MemoryWorkspace ws : workspaces) {
      if (ws.getThreadId() != null && ws.getThreadId() == me) {
        b += ws.getCurrentSize();
      }
    }
    return b;
  }

  /** Releases the session and its workspace memory; later calls to {@link #run} fail. */
  @Override
  public void close() {
    closed = true;
    OPEN.remove(this);
    if (running.get() == 0) {
      release.clean(); // once: later calls (and the cleaner) do nothing
    }
  }

  /** Frees a session's workspace memory (on close, or once an unclosed session is unreachable). */
  private record Release(List<MemoryWorkspace> workspaces, String id) implements Runnable {
    @Override
    public void run() {
      for (MemoryWorkspace ws : workspaces) {
        if (Nd4j.getWorkspaceManager().checkIfWorkspaceExists(id)
            && Nd4j.getWorkspaceManager().getWorkspaceForCurrentThread(id) == ws) {
          Nd4j.getWorkspaceManager().destroyWorkspace(ws); // also forgets it for this thread
        } else {
          ws.destroyWorkspace(true);
        }
      }
      workspaces.clear();
      MemoryBudget.trim(); // what glibc kept of it, back to the operating system
    }
  }
}
