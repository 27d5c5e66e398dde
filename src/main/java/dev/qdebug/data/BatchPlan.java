package dev.qdebug.data;

import dev.qdebug.engine.MemoryBudget;
import dev.qdebug.engine.Session;
import dev.qdebug.engine.Snapshot;
import dev.qdebug.onnx.OnnxModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Which samples run together in one forward pass: the one place that decides it for every
 * analysis, calibration and accuracy run. Samples are stacked along the first dimension only
 *
 * <ul>
 *   <li>where the model allows it: nothing in the graph ties the batch to a constant ({@link
 *       dev.qdebug.engine.Plan#batchBlocker}: a {@code Concat} of the batch with a {@code [1,...]}
 *       constant, a {@code Reshape} to a fixed first size), and a stacked run of the first samples
 *       gives the single runs' outputs (so a model declared with a fixed batch of 1 that batches
 *       anyway is stacked, one that does not runs one sample at a time);
 *   <li>and only samples of one shape (a model whose width is dynamic gets its samples grouped
 *       by shape);
 *   <li>and only as many as the memory budget allows ({@link MemoryBudget}): the bytes of one
 *       sample's tensors are measured on the first sample, scaled by each group's input size.
 * </ul>
 *
 * What the model allows is measured once per loaded model and remembered.
 */
public final class BatchPlan {
  /** Copies of a batch's tensors a sweep holds at once: snapshot, forward workspace, re-run. */
  public static final int SWEEP = 3;

  /** Copies a plain forward pass holds: its workspace and what it returns or captures. */
  public static final int FORWARD = 2;

  /** Samples a stacked probe run compares with single runs. */
  static final int PROBE_SAMPLES = 3;

  /** One forward pass: the indices of its samples, stacked in this order. */
  public record Batch(int[] samples) {
    public int size() {
      return samples.length;
    }

    /** The index of the {@code k}-th sample of the batch in the sample set. */
    public int sample(int k) {
      return samples[k];
    }
  }

  /** What the model allows, measured on its first samples. */
  private record Probe(Boolean stacks, String reason, long bytes, long elements) {}

  private static final Map<OnnxModel, Probe> PROBES =
      Collections.synchronizedMap(new WeakHashMap<>());

  private final List<List<Integer>> groups;
  private final int[] groupOf;
  private final int[] batchOf;
  private final boolean stacks;
  private final String reason;
  private final long bytesPerSample;

  private BatchPlan(
      List<List<Integer>> groups,
      int[] groupOf,
      int[] batchOf,
      boolean stacks,
      String reason,
      long bytesPerSample) {
    this.groups = groups;
    this.groupOf = groupOf;
    this.batchOf = batchOf;
    this.stacks = stacks;
    this.reason = reason;
    this.bytesPerSample = bytesPerSample;
  }

  /**
   * The plan for the first {@code n} samples of {@code data} on {@code session}'s model.
   *
   * @param copies how many copies of a batch's tensors the caller holds at once ({@link #SWEEP},
   *     {@link #FORWARD})
   * @param what names the step in a memory error
   * @throws dev.qdebug.UsageException naming the memory ceiling when one sample does not fit it
   */
  public static BatchPlan of(Session session, SampleSet data, int n, int copies, String what) {
    return of(session, data, n, copies, what, MemoryBudget.MAX_BATCH);
  }

  /** As {@link #of(Session, SampleSet, int, int, String)}, with at most {@code max} per batch. */
  public static BatchPlan of(
      Session session, SampleSet data, int n, int copies, String what, int max) {
    if (n <= 0) {
      return new BatchPlan(List.of(), new int[0], new int[0], false, "no samples", 0);
    }
    // group by shape, groups in order of first appearance
    Map<String, List<Integer>> byShape = new LinkedHashMap<>();
    long[] elements;
    if (data.fixedShapes()) {
      List<Integer> all = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        all.add(i);
      }
      byShape.put("", all);
      elements = new long[] {elements(data.shapeOf(0))};
    } else {
      Map<String, Long> size = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) {
        long[][] s = data.shapeOf(i);
        String key = Arrays.deepToString(s);
        byShape.computeIfAbsent(key, k -> new ArrayList<>()).add(i);
        size.putIfAbsent(key, elements(s));
      }
      elements = size.values().stream().mapToLong(Long::longValue).toArray();
    }
    List<List<Integer>> groups = new ArrayList<>(byShape.values());
    Probe probe = probe(session, data, groups);
    boolean stacks = Boolean.TRUE.equals(probe.stacks());
    long constants = session.plan().constantBytes();
    String where = what + " of " + session.model().source();
    int[] groupOf = new int[n];
    int[] batchOf = new int[groups.size()];
    for (int g = 0; g < groups.size(); g++) {
      long per = probe.elements() == 0 ? probe.bytes() : (long) Math.ceil((double) probe.bytes() * elements[g] / probe.elements());
      MemoryBudget.check(per, copies, constants, where);
      int cap = stacks ? MemoryBudget.batchSize(per, copies, constants, Math.max(1, max), where) : 1;
      // as many batches as the cap needs, of equal size: no small last batch that pays every
      // per-call cost (and a first run of its shape) for a few samples
      int size = groups.get(g).size();
      int parts = (size + cap - 1) / cap;
      batchOf[g] = (size + parts - 1) / parts;
      for (int i : groups.get(g)) {
        groupOf[i] = g;
      }
    }
    return new BatchPlan(groups, groupOf, batchOf, stacks, probe.reason(), probe.bytes());
  }

  private static long elements(long[][] shapes) {
    long e = 0;
    for (long[] s : shapes) {
      long p = 1;
      for (long d : s) {
        p *= Math.max(d, 1);
      }
      e += p;
    }
    return e;
  }

  private static Probe probe(Session session, SampleSet data, List<List<Integer>> groups) {
    OnnxModel model = session.model();
    Probe known = PROBES.get(model);
    List<Integer> multi = groups.stream().filter(g -> g.size() >= 2).findFirst().orElse(null);
    if (known != null && (known.stacks() != null || multi == null)) {
      return known;
    }
    int first = multi != null ? multi.get(0) : groups.get(0).get(0);
    Map<String, INDArray> one = data.batch(new int[] {first});
    Snapshot snap = session.snapshot(one);
    long bytes = snap.bytes();
    long elements = 0;
    for (INDArray x : one.values()) {
      elements += x.length();
    }
    Probe p;
    String blocker = session.plan().batchBlocker();
    if (blocker != null) {
      p = new Probe(false, blocker, bytes, elements);
    } else if (multi == null) {
      p = new Probe(null, "one sample per shape", bytes, elements);
    } else {
      p = compare(session, data, multi, snap, bytes, elements);
    }
    snap.close();
    PROBES.put(model, p);
    return p;
  }

  /** Runs the first samples of {@code group} stacked and one by one, and compares the outputs. */
  private static Probe compare(
      Session session, SampleSet data, List<Integer> group, Snapshot firstRun, long bytes, long elements) {
    int k = Math.min(PROBE_SAMPLES, group.size());
    int[] idx = new int[k];
    for (int s = 0; s < k; s++) {
      idx[s] = group.get(s);
    }
    List<String> outputs = session.outputs().stream().map(v -> v.name()).toList();
    Map<String, INDArray> stacked;
    try {
      stacked = session.run(data.batch(idx));
    } catch (RuntimeException e) {
      return new Probe(false, "a stacked run of " + k + " samples fails: " + e.getMessage(), bytes, elements);
    }
    for (int s = 0; s < k; s++) {
      Map<String, INDArray> single;
      if (s == 0) {
        single = new LinkedHashMap<>();
        for (String o : outputs) {
          single.put(o, firstRun.get(o));
        }
      } else {
        single = session.run(data.batch(new int[] {idx[s]}));
      }
      for (String o : outputs) {
        String why = differs(stacked.get(o), s, k, single.get(o));
        if (why != null) {
          return new Probe(
              false,
              "output '" + o + "' of a stacked run " + why + " the single run of sample " + idx[s],
              bytes,
              elements);
        }
      }
    }
    return new Probe(true, "stacked runs equal single runs", bytes, elements);
  }

  /** Why row {@code s} of {@code stacked} is not {@code single}, or null when it is (to 1e-4). */
  private static String differs(INDArray stacked, int s, int k, INDArray single) {
    if (stacked.rank() == 0 || stacked.size(0) != k || single.rank() != stacked.rank() || single.size(0) != 1) {
      return "has shape " + Arrays.toString(stacked.shape()) + ", not a batch of " + k + " beside";
    }
    INDArray row = stacked.get(NDArrayIndex.interval(s, s + 1));
    if (!Arrays.equals(row.shape(), single.shape())) {
      return "has rows of shape " + Arrays.toString(row.shape()) + ", unlike";
    }
    double[] a = row.castTo(DataType.DOUBLE).dup('c').data().asDouble();
    double[] b = single.castTo(DataType.DOUBLE).dup('c').data().asDouble();
    double scale = 1;
    for (double v : b) {
      scale = Math.max(scale, Math.abs(v));
    }
    for (int i = 0; i < a.length; i++) {
      if (!(Math.abs(a[i] - b[i]) <= 1e-4 * scale) && !(Double.isNaN(a[i]) && Double.isNaN(b[i]))) {
        return "differs (" + a[i] + " vs " + b[i] + ") from";
      }
    }
    return null;
  }

  /** Batches grouped by sample shape, each group in sample order. */
  public List<Batch> batches() {
    List<Batch> out = new ArrayList<>();
    for (int g = 0; g < groups.size(); g++) {
      List<Integer> members = groups.get(g);
      for (int from = 0; from < members.size(); from += batchOf[g]) {
        int c = Math.min(batchOf[g], members.size() - from);
        int[] idx = new int[c];
        for (int k = 0; k < c; k++) {
          idx[k] = members.get(from + k);
        }
        out.add(new Batch(idx));
      }
    }
    return out;
  }

  /**
   * Batches in sample order: consecutive samples of one shape run together. For what depends on
   * the order samples are seen in (calibration's histograms), so that every plan sees the samples
   * in the order single runs would.
   */
  public List<Batch> inOrder() {
    List<Batch> out = new ArrayList<>();
    int n = groupOf.length;
    int i = 0;
    while (i < n) {
      int g = groupOf[i];
      int j = i + 1;
      while (j < n && groupOf[j] == g && j - i < batchOf[g]) {
        j++;
      }
      int[] idx = new int[j - i];
      for (int k = 0; k < idx.length; k++) {
        idx[k] = i + k;
      }
      out.add(new Batch(idx));
      i = j;
    }
    return out;
  }

  /** Whether samples are stacked at all. */
  public boolean stacks() {
    return stacks;
  }

  /** Why samples are, or are not, stacked. */
  public String reason() {
    return reason;
  }

  /** The largest batch of the plan. */
  public int maxBatch() {
    int m = 0;
    for (int b : batchOf) {
      m = Math.max(m, b);
    }
    return m;
  }

  /** Measured bytes of the tensors of one sample (the first probed). */
  public long bytesPerSample() {
    return bytesPerSample;
  }

  /** Forgets what was measured about {@code model} (tests). */
  static void forget(OnnxModel model) {
    PROBES.remove(model);
  }
}
