package dev.qdebug.engine;

import dev.qdebug.ModelException;
import dev.qdebug.QdebugException;
import dev.qdebug.engine.ops.ChannelsLast;
import dev.qdebug.engine.ops.Fusion;
import dev.qdebug.onnx.Names;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.ValueInfo;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A model compiled for execution: every node's {@link Op} built once, nodes in an order where each
 * runs after its inputs exist, constant subgraphs (Constant nodes, Identity of an initializer,
 * shape arithmetic on constants) evaluated once, and each tensor's last use known so that
 * intermediate arrays are dropped as soon as no later node needs them.
 *
 * <p>Shape arithmetic that depends on the input's shape (a {@code Shape} or {@code Size} node and
 * everything computed from its output and constants alone, as exported transformers reshape by
 * the runtime batch) cannot be folded at compile time; it is computed on the first run and reused
 * while the shapes read stay the same (and every input is the same array as last time, so a hook
 * that replaces one gets a fresh computation).
 *
 * <p>A convolution whose output only feeds a clamping activation (Relu, Clip with constant
 * bounds), or only a Sigmoid and the Mul of the two (SiLU), is also compiled as one fused step
 * that applies the activation to the convolution's output in place; so is a layer normalization
 * exported op by op ({@link Fusion}). A run uses a fused step only when nothing can see the
 * tensors it skips: the hook touches none of them ({@link TensorHook#touches}; a fake-quant hook
 * declares the tensors it quantizes), and none of them is among the requested outputs; otherwise
 * the steps run as written. The hook is called only for the tensors it touches. {@code
 * -D}{@value #FUSE_PROPERTY}{@code =false} turns fusion off for plans compiled afterwards.
 *
 * <p>Tensors are addressed by slot (an int per tensor name) on the hot path.
 *
 * <p>A plan may run on several threads at once (a sweep's candidates on both cores): a run keeps
 * its tensors to itself, the ops' caches are published safely, and the shape-only memos are read
 * and written under the plan's lock.
 */
public final class Plan {
  /** One node to execute: its op and the slots it reads and writes. */
  public record Step(OnnxNode node, Op op, int[] in, int[] out) {}

  /**
   * System property: {@code false} keeps hooked runs and re-runs off the fused Conv + Relu / Clip
   * steps (by default they use them wherever the fused step skips no tensor the hook touches or
   * the run returns: the clamp is exact, so the result is the steps as written, bit for bit).
   */
  public static final String HOOKED_FUSE_PROPERTY = "qdebug.fuse.hooked";

  /** System property: {@code false} compiles plans without fused steps. */
  public static final String FUSE_PROPERTY = "qdebug.fuse";

  /**
   * System property: {@code false} compiles plans that keep 2-D convolution outputs in NCHW; by
   * default they are channels-last ({@link ChannelsLast}).
   */
  public static final String CHANNELS_LAST_PROPERTY = "qdebug.channelsLast";

  private final OnnxModel model;
  private final List<String> names = new ArrayList<>();
  private final Map<String, Integer> slots = new HashMap<>();
  private final List<Step> steps = new ArrayList<>();
  private final Map<Integer, INDArray> constants = new LinkedHashMap<>();
  private final int[] inputSlots;
  private final int[] outputSlots;
  private int[] lastUse;
  /** Per step: whether its outputs depend only on constants and the shapes Shape/Size read. */
  private volatile boolean[] shapeOnly;
  /** Per slot: whether a shape-only step produces it (its value may be reused across runs). */
  private volatile boolean[] reusedSlot;
  /** Per step: the last inputs and outputs of a shape-only step. */
  private Memo[] memos;
  /** Per step: whether a shape-only step's output proved too large to keep. */
  private boolean[] tooLarge;
  /** Per step: the fused step that replaces it and the later steps it feeds, or null. */
  private Step[] fusedAt;
  /**
   * Per step: whether a hooked run or a re-run may use its fused step (Conv + clamp, unless {@code
   * -D}{@value #HOOKED_FUSE_PROPERTY}{@code =false}).
   */
  private boolean[] hookable;
  /**
   * Per step with a fused step: the tensors a run must neither see nor change for it to use the
   * fused step (those it does not produce, and constants it read at compile time; -1 for absent).
   */
  private int[][] hidden;
  /** Per step: the step whose fused step does this one's work, or -1. */
  private int[] partOf;

  /** Where {@link #run} adds each step's nanoseconds, or null ({@link #timeSteps}). */
  private volatile long[] stepTimes;

  /**
   * What a shape-only step computed: for Shape/Size the shape it read, else its input arrays
   * (compared by identity: constants and other memos' outputs are the same arrays every run).
   */
  private record Memo(long[] shape, INDArray[] inputs, INDArray[] outputs) {}

  /** Shape-only outputs larger than this are recomputed every run rather than kept. */
  private static final long MEMO_MAX_LENGTH = 4096;

  /**
   * Compiles {@code model} with the ops of {@code registry}.
   *
   * @throws ModelException naming the node for unsupported ops, bad attributes, dangling inputs or
   *     cycles
   */
  public Plan(OnnxModel model, OpRegistry registry) {
    this.model = model;
    int opset = model.opset();
    for (Map.Entry<String, TensorProto> e : model.initializers().entrySet()) {
      INDArray value;
      try {
        value = Tensors.fromProto(e.getValue());
      } catch (ModelException ex) {
        throw new ModelException(model.source() + ": initializer " + ex.getMessage(), ex);
      }
      constants.put(slot(e.getKey()), value);
    }
    List<ValueInfo> inputs = model.inputs();
    inputSlots = new int[inputs.size()];
    for (int i = 0; i < inputs.size(); i++) {
      inputSlots[i] = slot(inputs.get(i).name());
    }
    for (OnnxNode node : topologicalOrder(model)) {
      Op op;
      try {
        op = registry.create(node, opset);
      } catch (ModelException e) {
        throw e.getMessage().contains(node.name())
            ? new ModelException(model.source() + ": " + e.getMessage(), e)
            : new ModelException(model.source() + ": " + node.describe() + ": " + e.getMessage(), e);
      } catch (RuntimeException e) {
        throw new ModelException(
            model.source() + ": " + node.describe() + ": cannot compile: " + e.getMessage(), e);
      }
      int[] in = new int[node.inputs().size()];
      boolean allConstant = true;
      for (int i = 0; i < in.length; i++) {
        String name = node.inputs().get(i);
        in[i] = name.isEmpty() ? -1 : slot(name);
        allConstant &= in[i] < 0 || constants.containsKey(in[i]);
      }
      int[] out = new int[node.outputs().size()];
      for (int i = 0; i < out.length; i++) {
        String name = node.outputs().get(i);
        out[i] = name.isEmpty() ? -1 : slot(name);
      }
      Step step = new Step(node, op, in, out);
      if (allConstant) {
        INDArray[] values = execute(step, gather(step, constants::get));
        for (int i = 0; i < out.length; i++) {
          if (out[i] >= 0 && i < values.length) {
            constants.put(out[i], values[i]);
          }
        }
      } else {
        steps.add(step);
      }
    }
    outputSlots = new int[model.outputs().size()];
    for (int i = 0; i < outputSlots.length; i++) {
      String name = model.outputs().get(i).name();
      Integer s = slots.get(name);
      if (s == null) {
        throw new ModelException(
            model.source() + ": graph output '" + name + "' is produced by no node");
      }
      outputSlots[i] = s;
    }
    channelsLast = useChannelsLast();
    if (channelsLast) {
      for (int k = 0; k < steps.size(); k++) {
        Step st = steps.get(k);
        Op op = ChannelsLast.adapt(st.node().opType(), st.op());
        steps.set(k, new Step(st.node(), op, st.in(), st.out()));
      }
    }
    computeLastUse();
    findShapeOnlySteps();
    findFusions(opset);
  }

  /** Whether this plan keeps 2-D convolution outputs channels-last. */
  private final boolean channelsLast;

  /**
   * Whether to keep 2-D convolution outputs channels-last: wherever the model has a 2-D convolution,
   * unless {@value #CHANNELS_LAST_PROPERTY} is {@code false}. Measured in one process against NCHW
   * (2026-12-07, 2 cores, float forward per image at batch 8 / 1): MnasNet 1.0 224 19-21 -> 8-9 /
   * 40 -> 25 ms, MobileViT-S 256 80-86 -> 60 / 125-139 -> 98-105 ms, ResNet-50 224 54-57 -> 46-47
   * / 89-92 -> 67-70 ms, RepVGG-B2 224 184 -> 174 ms (batch 4): depthwise convolutions skip
   * oneDNN's re-layouts, 1x1 ones become one matrix product over the batch.
   */
  private boolean useChannelsLast() {
    if ("false".equalsIgnoreCase(System.getProperty(CHANNELS_LAST_PROPERTY, "true").trim())) {
      return false;
    }
    for (Step st : steps) {
      if (!st.node().opType().equals("Conv") || st.in().length < 2) {
        continue;
      }
      INDArray w = constants.get(st.in()[1]);
      if (w != null && w.rank() == 4) {
        return true;
      }
    }
    return false;
  }

  /** Whether this plan keeps 2-D convolution outputs channels-last ({@link ChannelsLast}). */
  public boolean channelsLast() {
    return channelsLast;
  }

  /**
   * Compiles the fused steps, each kept beside the steps it replaces: a Conv step with the
   * clamping activation that is the only reader of its output, or with the Sigmoid and Mul that
   * are the only readers of its output and compute {@code x * sigmoid(x)} (SiLU / swish); no
   * tensor a fused step skips is a graph output.
   */
  private void findFusions(int opset) {
    fusedAt = new Step[steps.size()];
    hookable = new boolean[steps.size()];
    hidden = new int[steps.size()][];
    partOf = new int[steps.size()];
    Arrays.fill(partOf, -1);
    if ("false".equalsIgnoreCase(System.getProperty(FUSE_PROPERTY, "true"))) {
      return;
    }
    int[] readers = new int[names.size()];
    List<List<Integer>> readBy = new ArrayList<>();
    for (int s = 0; s < names.size(); s++) {
      readBy.add(new ArrayList<>(2));
    }
    for (int k = 0; k < steps.size(); k++) {
      for (int s : steps.get(k).in()) {
        if (s >= 0) {
          readers[s]++;
          readBy.get(s).add(k);
        }
      }
    }
    for (int s : outputSlots) {
      readers[s] += 3; // a graph output is always seen
    }
    int[] producedAt = new int[names.size()]; // the step computing each slot; -1: given
    Arrays.fill(producedAt, -1);
    for (int k = 0; k < steps.size(); k++) {
      for (int o : steps.get(k).out()) {
        if (o >= 0) {
          producedAt[o] = k;
        }
      }
    }
    for (int k = 0; k < steps.size(); k++) {
      Step conv = steps.get(k);
      if (!conv.node().opType().equals("Conv") || shapeOnly[k] || conv.out().length != 1) {
        continue;
      }
      int c = conv.out()[0];
      if (c < 0) {
        continue;
      }
      if (readers[c] == 1) {
        int j = readBy.get(c).get(0);
        Step act = steps.get(j);
        if (act.node().opType().equals("Add") && !shapeOnly[j]) {
          fuseResidual(k, j, opset, readers, readBy, producedAt);
          continue;
        }
        java.util.Optional<double[]> bounds = clampOf(j, c, opset);
        if (bounds.isPresent()) {
          boolean relu = act.node().opType().equals("Relu");
          Op op = Fusion.convClamp(conv.op(), bounds.get()[0], bounds.get()[1], relu);
          // the bounds are the activation's constant inputs, read now: a hook touching one
          // keeps the pair apart (hidden), as does one touching the conv output
          fuse(k, new Step(conv.node(), op, conv.in(), act.out()), withBounds(act, c), j);
          // Relu / Clip on the conv output in place is the two steps bit for bit: fake-quantized
          // runs and re-runs use it too (RerunTest, FakeQuantOrtTest compare them)
          hookable[k] = hookedFusion();
        }
      } else if (readers[c] == 2) {
        int j1 = readBy.get(c).get(0);
        int j2 = readBy.get(c).get(1);
        Step sig = steps.get(j1);
        Step mul = steps.get(j2);
        if (!sig.node().opType().equals("Sigmoid") || !mul.node().opType().equals("Mul")
            || sig.out().length != 1 || sig.out()[0] < 0 || mul.out().length != 1
            || mul.in().length != 2) {
          continue;
        }
        int sv = sig.out()[0];
        boolean pair = (mul.in()[0] == c && mul.in()[1] == sv) || (mul.in()[0] == sv && mul.in()[1] == c);
        if (pair && readers[sv] == 1 && !shapeOnly[j1] && !shapeOnly[j2]) {
          Op op = Fusion.convSilu(conv.op());
          fuse(k, new Step(conv.node(), op, conv.in(), mul.out()), new int[] {c, sv}, j1, j2);
        }
      }
    }
    for (int k = 0; k < steps.size(); k++) {
      if (fusedAt[k] == null && partOf[k] < 0) {
        fuseLayerNorm(k, readers, readBy);
      }
    }
  }

  /**
   * Conv step {@code k} whose output only Add step {@code j} reads, with a residual tensor computed
   * before the convolution (not a constant: a broadcast bias stays apart), and the clamping
   * activation that alone reads the sum, if any: one step over the conv's inputs and the residual
   * ({@link Fusion#convAdd}), exact like Conv + clamp, so hooked runs and re-runs use it too.
   */
  private void fuseResidual(
      int k, int j, int opset, int[] readers, List<List<Integer>> readBy, int[] producedAt) {
    Step conv = steps.get(k);
    Step add = steps.get(j);
    int c = conv.out()[0];
    if (add.in().length != 2 || add.out().length != 1 || add.out()[0] < 0) {
      return;
    }
    boolean convFirst = add.in()[0] == c;
    int r = convFirst ? add.in()[1] : add.in()[0];
    if (r < 0 || r == c || constants.containsKey(r) || producedAt[r] >= k) {
      return;
    }
    int z = add.out()[0];
    int ja = readers[z] == 1 ? readBy.get(z).get(0) : -1; // the activation, if it alone reads z
    double[] bounds = ja < 0 ? null : clampOf(ja, z, opset).orElse(null);
    Step act = bounds == null ? null : steps.get(ja);
    Op op =
        Fusion.convAdd(
            conv.op(), add.op(), convFirst, bounds,
            act != null && act.node().opType().equals("Relu"));
    if (op == null) {
      return;
    }
    int[] in = Arrays.copyOf(conv.in(), conv.in().length + 1);
    in[in.length - 1] = r;
    if (act == null) {
      fuse(k, new Step(conv.node(), op, in, add.out()), new int[] {c}, j);
    } else {
      fuse(k, new Step(conv.node(), op, in, act.out()), withBounds(act, c, z), j, ja);
    }
    hookable[k] = hookedFusion();
  }

  /**
   * The clamp bounds of step {@code j} when it is a clamping activation (Relu, Clip with constant
   * bounds) of tensor {@code input} alone, else empty.
   */
  private java.util.Optional<double[]> clampOf(int j, int input, int opset) {
    Step a = steps.get(j);
    if (shapeOnly[j] || a.in().length == 0 || a.in()[0] != input || a.out().length != 1) {
      return java.util.Optional.empty();
    }
    INDArray[] known = new INDArray[a.in().length];
    for (int i = 1; i < known.length; i++) {
      known[i] = a.in()[i] < 0 ? null : constants.get(a.in()[i]);
    }
    return Fusion.clampBounds(a.node(), opset, known);
  }

  /** {@code skipped}, then the bound inputs of clamping activation {@code act} (its inputs after the first). */
  private static int[] withBounds(Step act, int... skipped) {
    int[] all = Arrays.copyOf(skipped, skipped.length + act.in().length - 1);
    System.arraycopy(act.in(), 1, all, skipped.length, act.in().length - 1);
    return all;
  }

  /** Whether exact fused steps serve hooked runs and re-runs too ({@link #HOOKED_FUSE_PROPERTY}). */
  private static boolean hookedFusion() {
    return !"false".equalsIgnoreCase(System.getProperty(HOOKED_FUSE_PROPERTY, "true"));
  }

  /**
   * Layer normalization over the last axis as exported op by op (PyTorch's LayerNorm at opset
   * &lt; 17): {@code m = ReduceMean(x); d = x - m; v = ReduceMean(Pow(d, 2)); y = d / Sqrt(v +
   * eps) * gamma + beta}, eps, gamma and beta constants, each intermediate read only inside the
   * pattern. Fused into one step starting at the first ReduceMean.
   */
  private void fuseLayerNorm(int k, int[] readers, List<List<Integer>> readBy) {
    Step mean = steps.get(k);
    if (!isLastAxisMean(mean)) {
      return;
    }
    int x = mean.in()[0];
    Step sub = onlyReader(mean.out()[0], readers, readBy, "Sub");
    if (sub == null || sub.in()[0] != x || sub.in()[1] != mean.out()[0]) {
      return;
    }
    int d = sub.out()[0];
    if (readers[d] != 2) {
      return;
    }
    Step pow = steps.get(readBy.get(d).get(0));
    Step div = steps.get(readBy.get(d).get(1));
    if (!pow.node().opType().equals("Pow") || pow.in().length != 2 || pow.in()[0] != d
        || scalar(pow.in()[1]) != 2.0) {
      return;
    }
    Step mean2 = onlyReader(pow.out()[0], readers, readBy, "ReduceMean");
    if (mean2 == null || !isLastAxisMean(mean2)) {
      return;
    }
    Step add = onlyReader(mean2.out()[0], readers, readBy, "Add");
    if (add == null) {
      return;
    }
    int epsSlot = add.in()[0] == mean2.out()[0] ? add.in()[1] : add.in()[0];
    double eps = scalar(epsSlot);
    Step sqrt = onlyReader(add.out()[0], readers, readBy, "Sqrt");
    if (Double.isNaN(eps) || sqrt == null) {
      return;
    }
    if (onlyReader(sqrt.out()[0], readers, readBy, "Div") != div
        || !div.node().opType().equals("Div") || div.in()[0] != d || div.in()[1] != sqrt.out()[0]) {
      return;
    }
    Step mul = onlyReader(div.out()[0], readers, readBy, "Mul");
    if (mul == null) {
      return;
    }
    INDArray gamma = constants.get(mul.in()[0] == div.out()[0] ? mul.in()[1] : mul.in()[0]);
    Step bias = onlyReader(mul.out()[0], readers, readBy, "Add");
    if (gamma == null || bias == null) {
      return;
    }
    INDArray beta = constants.get(bias.in()[0] == mul.out()[0] ? bias.in()[1] : bias.in()[0]);
    if (beta == null) {
      return;
    }
    List<Step> parts = List.of(mean, sub, pow, mean2, add, sqrt, div, mul, bias);
    int[] replaced = new int[parts.size() - 1];
    int[] skipped = new int[parts.size() - 1];
    for (int i = 1; i < parts.size(); i++) {
      int j = steps.indexOf(parts.get(i));
      if (j <= k || fusedAt[j] != null || partOf[j] >= 0 || shapeOnly[j]) {
        return;
      }
      replaced[i - 1] = j;
      skipped[i - 1] = parts.get(i - 1).out()[0];
    }
    Op fallback = chain(parts, x, bias.out()[0]);
    Op op = Fusion.layerNorm(eps, gamma, beta, fallback);
    fuse(k, new Step(mean.node(), op, new int[] {x}, bias.out()), skipped, replaced);
  }

  /** A ReduceMean over the last axis only, keeping it, with one output. */
  private boolean isLastAxisMean(Step s) {
    if (!s.node().opType().equals("ReduceMean") || s.in().length != 1 || s.in()[0] < 0
        || s.out().length != 1 || s.out()[0] < 0 || s.node().attrInt("keepdims", 1) == 0) {
      return false;
    }
    long[] axes = s.node().attrInts("axes").orElse(null);
    return axes != null && axes.length == 1 && axes[0] == -1;
  }

  /** The one step reading {@code slot} when it is of {@code type} and has one output, or null. */
  private Step onlyReader(int slot, int[] readers, List<List<Integer>> readBy, String type) {
    if (slot < 0 || readers[slot] != 1) {
      return null;
    }
    Step s = steps.get(readBy.get(slot).get(0));
    return s.node().opType().equals(type) && s.out().length == 1 && s.out()[0] >= 0 ? s : null;
  }

  /** The value of a one-element float constant in {@code slot}, or NaN. */
  private double scalar(int slot) {
    INDArray c = slot < 0 ? null : constants.get(slot);
    return c == null || c.length() != 1 || !c.dataType().isFPType() ? Double.NaN : c.getDouble(0);
  }

  /** The steps {@code parts} run one after the other, from {@code input} to {@code output}. */
  private Op chain(List<Step> parts, int input, int output) {
    return in -> {
      Map<Integer, INDArray> local = new HashMap<>();
      local.put(input, in[0]);
      for (Step p : parts) {
        INDArray[] args = gather(p, s -> local.containsKey(s) ? local.get(s) : constants.get(s));
        INDArray[] out = p.op().run(args);
        local.put(p.out()[0], out[0]);
      }
      return new INDArray[] {local.get(output)};
    };
  }

  private void fuse(int k, Step fused, int[] skipped, int... replaced) {
    fusedAt[k] = fused;
    hidden[k] = skipped;
    for (int j : replaced) {
      partOf[j] = k;
    }
  }

  /**
   * Per step, whether this run uses its fused step: only where no tensor the fused step skips is
   * requested or touched by the hook ({@code touched}, null when the hook touches none); null when
   * none is used. A hooked run uses only Conv + clamp ({@link #hookable}), which is exact: SiLU and
   * layer norm fused differ from their ops in the last bit, which a fake-quantized run's rounding
   * would turn into a whole quantization step.
   */
  private boolean[] fusedSteps(TensorHook hook, boolean[] touched, boolean[] keep) {
    return fusedSteps(hook != TensorHook.NONE, touched, keep); // any hook, even one touching nothing
  }

  /** {@link #fusedSteps(TensorHook, boolean[], boolean[])}; {@code exactOnly}: Conv + clamp only. */
  private boolean[] fusedSteps(boolean exactOnly, boolean[] touched, boolean[] keep) {
    boolean[] use = null;
    for (int k = 0; k < fusedAt.length; k++) {
      if (fusedAt[k] == null || (exactOnly && !hookable[k])) {
        continue;
      }
      boolean free = true;
      for (int s : hidden[k]) {
        free &= s < 0 || (!keep[s] && (touched == null || !touched[s]));
      }
      if (free) {
        use = use == null ? new boolean[fusedAt.length] : use;
        use[k] = true;
      }
    }
    return use;
  }

  /**
   * How many of the plan's fused steps a run with {@code hook} returning {@code outputs} (the
   * graph outputs when empty) uses: those skipping no tensor the hook touches or the run returns.
   */
  public int fusedStepsUsed(TensorHook hook, Collection<String> outputs) {
    boolean[] keep = new boolean[names.size()];
    for (int s : outputs.isEmpty() ? outputSlots : slotsOf(outputs)) {
      keep[s] = true;
    }
    boolean[] use = fusedSteps(hook, touched(hook), keep);
    int n = 0;
    for (int k = 0; use != null && k < use.length; k++) {
      n += use[k] ? 1 : 0;
    }
    return n;
  }

  /** How many fused steps the plan holds (each replaces two steps in runs without a hook). */
  public int fusedSteps() {
    int n = 0;
    for (Step f : fusedAt) {
      n += f == null ? 0 : 1;
    }
    return n;
  }

  /**
   * Marks the shape-only steps: Shape and Size, and steps that read only constants and shape-only
   * outputs; a step whose output turned out too large to keep ({@code tooLarge}) is not one.
   */
  private synchronized void findShapeOnlySteps() {
    if (memos == null) {
      memos = new Memo[steps.size()];
      tooLarge = new boolean[steps.size()];
    }
    // built aside, then published: a run on another thread reads one whole pair of arrays
    boolean[] only = new boolean[steps.size()];
    boolean[] reused = new boolean[names.size()];
    for (int k = 0; k < steps.size(); k++) {
      Step step = steps.get(k);
      if (tooLarge[k]) {
        continue;
      }
      String type = step.node().opType();
      boolean o = type.equals("Shape") || type.equals("Size");
      if (!o) {
        o = true;
        for (int s : step.in()) {
          o &= s < 0 || constants.containsKey(s) || reused[s];
        }
      }
      only[k] = o;
      if (o) {
        for (int s : step.out()) {
          if (s >= 0) {
            reused[s] = true;
          }
        }
      }
    }
    reusedSlot = reused;
    shapeOnly = only;
  }

  /** Runs shape-only step {@code k}, or reuses what it computed last time for the same inputs. */
  private synchronized INDArray[] reuseOrExecute(int k, Step step, INDArray[] in) {
    boolean readsShape = step.node().opType().equals("Shape") || step.node().opType().equals("Size");
    Memo m = memos[k];
    if (m != null && (readsShape ? Arrays.equals(m.shape(), in[0].shape()) : sameArrays(m.inputs(), in))) {
      return m.outputs();
    }
    // kept across runs: outside the session's workspace
    INDArray[] out = Workspaces.outside(() -> execute(step, in));
    boolean small = true;
    for (INDArray o : out) {
      small &= o != null && o.length() <= MEMO_MAX_LENGTH;
    }
    if (small) {
      memos[k] = readsShape ? new Memo(in[0].shape(), null, out) : new Memo(null, in.clone(), out);
    } else {
      // e.g. ConstantOfShape of the input's shape: computed in the workspace every run from now on
      tooLarge[k] = true;
      memos[k] = null;
      findShapeOnlySteps();
    }
    return out;
  }

  private static boolean sameArrays(INDArray[] a, INDArray[] b) {
    if (a.length != b.length) {
      return false;
    }
    for (int i = 0; i < a.length; i++) {
      if (a[i] != b[i]) {
        return false;
      }
    }
    return true;
  }

  private void computeLastUse() {
    lastUse = new int[names.size()];
    Arrays.fill(lastUse, -1);
    for (int k = 0; k < steps.size(); k++) {
      for (int s : steps.get(k).in()) {
        if (s >= 0) {
          lastUse[s] = k;
        }
      }
    }
    for (int s : outputSlots) {
      lastUse[s] = Integer.MAX_VALUE;
    }
  }

  private int slot(String name) {
    return slots.computeIfAbsent(
        name,
        n -> {
          names.add(n);
          return names.size() - 1;
        });
  }

  private static List<OnnxNode> topologicalOrder(OnnxModel model) {
    Map<String, Boolean> available = new HashMap<>();
    model.initializers().keySet().forEach(n -> available.put(n, true));
    model.inputs().forEach(v -> available.put(v.name(), true));
    available.put("", true);
    Map<String, List<OnnxNode>> waiting = new HashMap<>();
    Map<OnnxNode, Integer> missing = new HashMap<>();
    Deque<OnnxNode> ready = new ArrayDeque<>();
    Map<String, OnnxNode> producer = new HashMap<>();
    for (OnnxNode n : model.nodes()) {
      for (String o : n.outputs()) {
        if (!o.isEmpty()) {
          producer.put(o, n);
        }
      }
    }
    for (OnnxNode n : model.nodes()) {
      int count = 0;
      for (String in : n.inputs()) {
        if (!available.containsKey(in)) {
          if (!producer.containsKey(in)) {
            throw new ModelException(
                model.source()
                    + ": "
                    + n.describe()
                    + " reads tensor '"
                    + in
                    + "' that no node, graph input or initializer provides");
          }
          waiting.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
          count++;
        }
      }
      missing.put(n, count);
      if (count == 0) {
        ready.add(n);
      }
    }
    List<OnnxNode> order = new ArrayList<>();
    // keep file order where possible: ready nodes are taken in the order they became ready
    while (!ready.isEmpty()) {
      OnnxNode n = ready.poll();
      order.add(n);
      for (String o : n.outputs()) {
        for (OnnxNode w : waiting.getOrDefault(o, List.of())) {
          int left = missing.merge(w, -1, Integer::sum);
          if (left == 0) {
            ready.add(w);
          }
        }
        waiting.remove(o);
      }
    }
    if (order.size() != model.nodes().size()) {
      OnnxNode stuck =
          model.nodes().stream().filter(n -> !order.contains(n)).findFirst().orElseThrow();
      throw new ModelException(
          model.source() + ": the graph has a cycle through " + stuck.describe());
    }
    return order;
  }

  private interface SlotReader {
    INDArray get(int slot);
  }

  private static INDArray[] gather(Step step, SlotReader values) {
    INDArray[] in = new INDArray[step.in().length];
    for (int i = 0; i < in.length; i++) {
      in[i] = step.in()[i] < 0 ? null : values.get(step.in()[i]);
    }
    return in;
  }

  private INDArray[] execute(Step step, INDArray[] in) {
    try {
      INDArray[] out = runOp(step.op(), in);
      if (out.length < step.out().length && step.out().length > 0) {
        // optional trailing outputs (e.g. Dropout's mask) may be omitted when unused
        for (int i = out.length; i < step.out().length; i++) {
          if (step.out()[i] >= 0 && isUsed(step.out()[i])) {
            throw step.node().error("produced no value for output '" + name(step.out()[i]) + "'");
          }
        }
      }
      return out;
    } catch (QdebugException e) {
      throw e.getMessage().startsWith(model.source())
          ? e
          : new ModelException(model.source() + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      StringBuilder shapes = new StringBuilder();
      for (INDArray a : in) {
        shapes.append(shapes.length() == 0 ? "" : ", ");
        shapes.append(a == null ? "none" : a.dataType() + Arrays.toString(a.shape()));
      }
      throw new ModelException(
          model.source()
              + ": "
              + step.node().describe()
              + " failed on inputs ("
              + shapes
              + "): "
              + e.getMessage(),
          e);
    }
  }

  /**
   * Runs {@code op}; when it fails inside a workspace it runs once more outside it, so that the
   * few ND4J paths that cannot allocate in a workspace (empty arrays) behave as without one, and
   * a real error is reported as it always was.
   */
  private static INDArray[] runOp(Op op, INDArray[] in) {
    try {
      return op.run(in);
    } catch (QdebugException e) {
      throw e;
    } catch (RuntimeException e) {
      if (Nd4j.getMemoryManager().getCurrentWorkspace() == null) {
        throw e;
      }
      return Workspaces.outside(() -> op.run(in));
    }
  }

  private boolean isUsed(int slot) {
    for (Step s : steps) {
      for (int i : s.in()) {
        if (i == slot) {
          return true;
        }
      }
    }
    for (String o : model.outputs().stream().map(ValueInfo::name).toList()) {
      if (o.equals(name(slot))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Runs the plan.
   *
   * @param feeds one array per graph input, in {@link OnnxModel#inputs()} order, already checked
   * @param wanted slots whose final values to return (kept alive until the end)
   * @param hook sees each tensor as it is produced
   * @return the values of {@code wanted}, in order
   */
  INDArray[] run(INDArray[] feeds, int[] wanted, TensorHook hook) {
    long[] times = stepTimes;
    INDArray[] values = new INDArray[names.size()];
    boolean[] keep = new boolean[names.size()];
    for (int w : wanted) {
      keep[w] = true;
    }
    boolean[] touched = touched(hook);
    for (int i = 0; i < inputSlots.length; i++) {
      int s = inputSlots[i];
      values[s] = touched != null && touched[s] ? hook.onTensor(names.get(s), feeds[i]) : feeds[i];
    }
    for (Map.Entry<Integer, INDArray> c : constants.entrySet()) {
      int s = c.getKey();
      if (lastUse[s] >= 0 || keep[s]) {
        values[s] =
            touched != null && touched[s] ? hook.onTensor(names.get(s), c.getValue()) : c.getValue();
      }
    }
    boolean[] fused = fusedSteps(hook, touched, keep);
    boolean[] shapeOnly = this.shapeOnly; // one consistent pair for this run
    boolean[] reusedSlot = this.reusedSlot;
    for (int k = 0; k < steps.size(); k++) {
      Step step = steps.get(k);
      if (fused != null && partOf[k] >= 0 && fused[partOf[k]]) {
        // done by the fused step that produced this step's output, which read its inputs then
        dropLastUses(step, k, keep, values);
        continue;
      }
      if (fused != null && fused[k]) {
        step = fusedAt[k];
      }
      long t0 = times == null ? 0 : System.nanoTime();
      INDArray[] in = gather(step, s -> values[s]);
      INDArray[] out = shapeOnly[k] ? reuseOrExecute(k, step, in) : execute(step, in);
      if (times != null) {
        times[k] += System.nanoTime() - t0;
      }
      for (int i = 0; i < step.out().length && i < out.length; i++) {
        int s = step.out()[i];
        if (s >= 0) {
          values[s] =
              touched != null && touched[s] ? hooked(hook, s, out, i, in, shapeOnly[k]) : out[i];
        }
      }
      dropLastUses(step, k, keep, values);
    }
    INDArray[] result = new INDArray[wanted.length];
    for (int i = 0; i < wanted.length; i++) {
      INDArray v = values[wanted[i]];
      // a reused shape value is the plan's own: the caller gets a copy
      result[i] = reusedSlot[wanted[i]] && v != null ? Workspaces.outside(v::dup) : v;
    }
    return result;
  }

  /** Drops the values of {@code step}'s inputs whose last reader is step {@code k}, unless kept. */
  private void dropLastUses(Step step, int k, boolean[] keep, INDArray[] values) {
    for (int s : step.in()) {
      if (s >= 0 && lastUse[s] == k && !keep[s]) {
        values[s] = null;
      }
    }
  }

  /**
   * {@code hook} applied to output {@code i} of a step that read {@code in}: as owned ({@link
   * TensorHook#onOwnedTensor}) when the array was made in this run's workspace (not a cached or
   * memoized array: those live outside it), by a step that is not shape-only, and shares memory
   * with none of the step's inputs and other outputs.
   */
  private INDArray hooked(
      TensorHook hook, int slot, INDArray[] out, int i, INDArray[] in, boolean shapeOnlyStep) {
    INDArray y = out[i];
    boolean owned = !shapeOnlyStep && y != null && !y.isEmpty() && y.isAttached();
    for (int j = 0; owned && j < in.length; j++) {
      owned = !Tensors.overlap(y, in[j]);
    }
    for (int j = 0; owned && j < out.length; j++) {
      owned = j == i || !Tensors.overlap(y, out[j]);
    }
    return owned ? hook.onOwnedTensor(names.get(slot), y) : hook.onTensor(names.get(slot), y);
  }

  /**
   * Per slot, whether {@code hook} touches the tensor ({@link TensorHook#touches}); null when it
   * touches none.
   */
  private boolean[] touched(TensorHook hook) {
    if (hook == TensorHook.NONE) {
      return null;
    }
    boolean[] t = new boolean[names.size()];
    boolean any = false;
    for (int s = 0; s < t.length; s++) {
      t[s] = hook.touches(names.get(s));
      any |= t[s];
    }
    return any ? t : null;
  }

  /**
   * The slots a re-run must not skip: those {@code hook} touches and the {@code changed} ones
   * (their base values go through the hook whatever it declares); never null.
   */
  private boolean[] rerunTouched(TensorHook hook, boolean[] changed) {
    boolean[] t = touched(hook);
    if (t == null) {
      return changed;
    }
    for (int s = 0; s < t.length; s++) {
      t[s] |= changed[s];
    }
    return t;
  }

  /** Runs with no hook and keeps the value of every tensor (for {@link #rerun}). */
  INDArray[] runAll(INDArray[] feeds) {
    return runAll(feeds, null);
  }

  /**
   * Runs with no hook and keeps the tensors of {@code keep} (every tensor when null); the others
   * are dropped after their last use, as in {@link #run}.
   */
  INDArray[] runAll(INDArray[] feeds, boolean[] keep) {
    INDArray[] values = new INDArray[names.size()];
    boolean[] input = new boolean[names.size()];
    for (int i = 0; i < inputSlots.length; i++) {
      values[inputSlots[i]] = feeds[i];
      input[inputSlots[i]] = true;
    }
    for (Map.Entry<Integer, INDArray> c : constants.entrySet()) {
      values[c.getKey()] = c.getValue();
    }
    // the tensors this run computed and dropped: freed at the end (below), not left to the garbage
    // collector, which a heap of small objects rarely wakes while their off-heap memory piles up
    List<INDArray> dropped = new ArrayList<>();
    for (int k = 0; k < steps.size(); k++) {
      Step step = steps.get(k);
      INDArray[] out = execute(step, gather(step, s -> values[s]));
      for (int i = 0; i < step.out().length && i < out.length; i++) {
        if (step.out()[i] >= 0) {
          values[step.out()[i]] = out[i];
        }
      }
      if (keep != null) {
        for (int s : step.in()) {
          if (s >= 0 && lastUse[s] == k && !keep[s] && !constants.containsKey(s)) {
            if (!input[s] && values[s] != null) {
              dropped.add(values[s]);
            }
            values[s] = null;
          }
        }
      }
    }
    if (keep != null) {
      for (int s = 0; s < values.length; s++) {
        if (!keep[s] && !constants.containsKey(s)) {
          if (!input[s] && values[s] != null) {
            dropped.add(values[s]);
          }
          values[s] = null; // never read (a dead-end output)
        }
      }
    }
    if (!dropped.isEmpty()) {
      List<INDArray> live = new ArrayList<>(Arrays.asList(feeds));
      for (INDArray v : values) {
        if (v != null) {
          live.add(v);
        }
      }
      release(dropped.toArray(new INDArray[0]), live);
    }
    return values;
  }

  /**
   * The tensors a snapshot must keep so that {@link #rerun} works for any subset of {@code
   * mayChange}: those tensors themselves, {@code wanted}, and every input of every step downstream
   * of them (the re-run subgraph reads its unchanged inputs from the snapshot), and of the fused
   * step that may do such a step's work (a residual Add's convolution reads its own inputs though
   * only the residual is downstream). Nothing else upstream of or beside the changes is kept.
   */
  boolean[] neededForRerun(boolean[] mayChange, int[] wanted) {
    boolean[] dirty = mayChange.clone();
    boolean[] keep = mayChange.clone();
    for (int w : wanted) {
      keep[w] = true;
    }
    for (int k = 0; k < steps.size(); k++) {
      Step step = steps.get(k);
      boolean run = false;
      for (int s : step.in()) {
        run |= s >= 0 && dirty[s];
      }
      if (!run) {
        continue;
      }
      for (int s : step.in()) {
        if (s >= 0) {
          keep[s] = true;
        }
      }
      // a fused step a re-run may use in place of this one (a residual Add's convolution, whose
      // own inputs need not be downstream of the change) reads all of its inputs from the snapshot
      int head = fusedAt[k] != null ? k : partOf[k];
      if (head >= 0) {
        for (int s : fusedAt[head].in()) {
          if (s >= 0) {
            keep[s] = true;
          }
        }
      }
      for (int s : step.out()) {
        if (s >= 0) {
          dirty[s] = true;
        }
      }
    }
    return keep;
  }

  /**
   * Re-runs only what depends on the {@code changed} slots: each changed tensor's base value goes
   * through {@code hook}, then only the steps reading a changed (or recomputed) tensor run, their
   * other inputs taken from {@code base}; those of their outputs the hook touches go through
   * it. A fused step replaces its steps as in {@link #run} where it skips no changed, touched or
   * wanted tensor.
   *
   * @param base every tensor's value from {@link #runAll}
   * @return the values of {@code wanted}: recomputed where downstream of a change, else base
   */
  INDArray[] rerun(INDArray[] base, boolean[] changed, int[] wanted, TensorHook hook) {
    INDArray[] values = new INDArray[names.size()];
    boolean[] dirty = changed.clone();
    for (int s = 0; s < dirty.length; s++) {
      if (dirty[s] && base[s] != null) {
        values[s] = hook.onTensor(names.get(s), base[s]);
      }
    }
    boolean[] keep = new boolean[names.size()];
    for (int w : wanted) {
      keep[w] = true;
    }
    boolean[] touched = rerunTouched(hook, changed);
    // only the exact ones (Conv + clamp, Conv + residual Add + clamp): a layer norm's later steps
    // read its input too
    boolean[] fused = fusedSteps(true, touched, keep);
    for (int k = 0; k < steps.size(); k++) {
      Step step = steps.get(k);
      if (fused != null && partOf[k] >= 0 && fused[partOf[k]]) {
        // done by its fused step, which ran if this step would have: a residual Add reads a
        // tensor besides the conv output, and that tensor is an input of the fused step too
        continue;
      }
      if (fused != null && fused[k]) {
        // the fused step runs when any of its inputs changed: the conv's, or a residual Add's
        // other operand (a weight sweep's change upstream of that operand only); the activation
        // reads only the sum (and constants, unchanged)
        step = fusedAt[k];
      }
      boolean run = false;
      for (int s : step.in()) {
        run |= s >= 0 && dirty[s];
      }
      if (!run) {
        continue;
      }
      INDArray[] in = gather(step, s -> dirty[s] ? values[s] : base[s]);
      INDArray[] out = execute(step, in);
      for (int i = 0; i < step.out().length && i < out.length; i++) {
        int s = step.out()[i];
        if (s >= 0) {
          values[s] = touched[s] ? hooked(hook, s, out, i, in, shapeOnly[k]) : out[i];
          dirty[s] = true;
        }
      }
      dropLastUses(step, k, keep, values);
    }
    INDArray[] result = new INDArray[wanted.length];
    for (int i = 0; i < wanted.length; i++) {
      result[i] = dirty[wanted[i]] ? values[wanted[i]] : base[wanted[i]];
    }
    return result;
  }

  public OnnxModel model() {
    return model;
  }

  /** Bytes of {@code values} outside the constants, each data buffer counted once. */
  long tensorBytes(INDArray[] values) {
    java.util.Set<Object> seen = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    long sum = 0;
    for (int s = 0; s < values.length; s++) {
      INDArray v = values[s];
      if (v == null || constants.containsKey(s) || v.isEmpty()) {
        continue;
      }
      Object buf = v.data();
      if (seen.add(buf)) {
        sum += v.data().length() * v.data().getElementSize();
      }
    }
    return sum;
  }

  /**
   * Closes the arrays of {@code values} that a run computed (not constants, not {@code keep}),
   * each buffer once; views and arrays ND4J will not close are left to the garbage collector.
   */
  void release(INDArray[] values, Collection<INDArray> keep) {
    java.util.Set<Object> seen = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    for (INDArray k : keep) {
      if (k != null && !k.isEmpty()) {
        // a kept view protects the buffer it looks into, whichever object ND4J wraps it in
        seen.addAll(buffers(k));
      }
    }
    for (INDArray c : constants.values()) {
      if (c != null) {
        seen.add(c.data());
      }
    }
    synchronized (this) {
      for (Memo m : memos) {
        if (m != null) {
          for (INDArray o : m.outputs()) {
            if (o != null) {
              seen.add(o.data());
            }
          }
        }
      }
    }
    for (int s = 0; s < values.length; s++) {
      INDArray v = values[s];
      values[s] = null;
      if (v == null || v.isEmpty() || v.isView() || v.isAttached()) {
        continue;
      }
      List<Object> own = buffers(v);
      if (own.stream().anyMatch(seen::contains)) {
        continue; // kept, or freed already
      }
      seen.addAll(own);
      try {
        if (v.closeable()) {
          v.close();
        }
      } catch (RuntimeException e) {
        // not ours to free: the garbage collector will
      }
    }
  }

  /** The buffer of {@code a} and the ones it wraps (a view's original, an offset's underlying). */
  private static List<Object> buffers(INDArray a) {
    List<Object> b = new ArrayList<>(3);
    org.nd4j.linalg.api.buffer.DataBuffer d = a.data();
    b.add(d);
    if (d.originalDataBuffer() != null) {
      b.add(d.originalDataBuffer());
    }
    if (d.underlyingDataBuffer() != null) {
      b.add(d.underlyingDataBuffer());
    }
    return b;
  }

  /** Bytes of the model's constants (initializers and folded values), each buffer counted once. */
  public long constantBytes() {
    long c = constantBytes;
    if (c < 0) {
      java.util.Set<Object> seen = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
      c = 0;
      for (INDArray v : constants.values()) {
        if (v != null && !v.isEmpty() && seen.add(v.data())) {
          c += v.data().length() * v.data().getElementSize();
        }
      }
      constantBytes = c;
    }
    return c;
  }

  private long constantBytes = -1;

  /**
   * Why samples cannot be stacked along the first dimension, read from the graph alone, or null
   * when nothing in it shows: a constant that the batch meets where their first dimensions must
   * agree (a {@code Concat} along another axis with a constant input, as a detector joining its
   * features with a {@code [1,4,H,W]} prior does), or a {@code Reshape} to a constant shape whose
   * first size is fixed. Null does not prove stacking safe; {@code BatchPlan} also compares a
   * stacked run with single runs.
   */
  public String batchBlocker() {
    boolean[] carrying = new boolean[names.size()];
    for (int s : inputSlots) {
      carrying[s] = true;
    }
    for (Step step : steps) {
      boolean any = false;
      for (int s : step.in()) {
        any |= s >= 0 && carrying[s];
      }
      if (!any) {
        continue;
      }
      String type = step.node().opType();
      if (type.equals("Shape") || type.equals("Size")) {
        continue; // shape values, not samples
      }
      if (type.equals("Concat")) {
        long axis = step.node().attrInt("axis", 0);
        for (int i = 0; i < step.in().length; i++) {
          INDArray c = step.in()[i] < 0 ? null : constants.get(step.in()[i]);
          if (c != null && c.rank() >= 1 && axis != 0 && axis != -c.rank()) {
            return step.node().describe()
                + " joins the batch with constant '"
                + name(step.in()[i])
                + "' of shape "
                + Arrays.toString(c.shape())
                + " along axis "
                + axis;
          }
        }
      }
      if (type.equals("Reshape") && step.in().length > 1 && step.in()[0] >= 0
          && carrying[step.in()[0]]) {
        INDArray c = constants.get(step.in()[1]);
        if (c != null && c.length() > 0 && c.getLong(0) > 0) {
          return step.node().describe()
              + " reshapes the batch to the constant shape "
              + Arrays.toString(c.toLongVector());
        }
      }
      for (int s : step.out()) {
        if (s >= 0) {
          carrying[s] = true;
        }
      }
    }
    return null;
  }

  /** Slots whose value is a constant. */
  boolean isConstantSlot(int slot) {
    return constants.containsKey(slot);
  }

  /** The constant in {@code slot}, or null. */
  INDArray constantAt(int slot) {
    return constants.get(slot);
  }

  /**
   * Times the steps of the runs that follow ({@link Session#run}, not re-runs): each run adds the
   * nanoseconds of step {@code k} of {@link #steps()} to {@code into[k]} (a fused step's time at
   * its first step, as {@link #stepRunAs} names it; hooks not counted); null stops. For
   * profiling, one run at a time.
   */
  public void timeSteps(long[] into) {
    if (into != null && into.length != steps.size()) {
      throw new IllegalArgumentException("timeSteps needs one slot per step (" + steps.size() + "), got " + into.length);
    }
    stepTimes = into;
  }

  /**
   * The step that a plain run executes at index {@code k}: the fused step starting there, null
   * for a step a fused one does, else step {@code k} itself.
   */
  public Step stepRunAs(int k) {
    if (partOf[k] >= 0) {
      return null;
    }
    return fusedAt[k] != null ? fusedAt[k] : steps.get(k);
  }

  /** The steps that run per forward pass (constant nodes are folded away). */
  public List<Step> steps() {
    return Collections.unmodifiableList(steps);
  }

  /** Tensor name of {@code slot}. */
  public String name(int slot) {
    return names.get(slot);
  }

  /** The slot of tensor {@code name}; the error lists the closest tensor names. */
  public int slotOf(String name) {
    Integer s = slots.get(name);
    if (s == null) {
      throw new ModelException(
          model.source()
              + ": no tensor named '"
              + name
              + "'; closest: "
              + Names.closest(name, slots.keySet(), 5));
    }
    return s;
  }

  /** Whether {@code name} is a constant (initializer or folded) tensor. */
  public boolean isConstant(String name) {
    Integer s = slots.get(name);
    return s != null && constants.containsKey(s);
  }

  /** The value of constant tensor {@code name}. */
  public INDArray constant(String name) {
    INDArray c = constants.get(slotOf(name));
    if (c == null) {
      throw new ModelException(model.source() + ": tensor '" + name + "' is not a constant");
    }
    return c;
  }

  /** Every tensor name: graph inputs, constants, then node outputs in execution order. */
  public List<String> tensorNames() {
    return Collections.unmodifiableList(names);
  }

  int[] inputSlots() {
    return inputSlots;
  }

  int[] outputSlots() {
    return outputSlots;
  }

  int[] slotsOf(Collection<String> tensorNames) {
    return tensorNames.stream().mapToInt(this::slotOf).toArray();
  }
}
