package dev.qdebug.debug;

import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Snapshot;
import dev.qdebug.engine.TensorHook;
import dev.qdebug.engine.Workspaces;
import dev.qdebug.metrics.Metric;
import dev.qdebug.quant.BiasCorrection;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.FakeQuant;
import dev.qdebug.quant.ModelEdits;
import dev.qdebug.quant.TensorKind;
import dev.qdebug.onnx.OnnxModel;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The fix trials of {@link Diagnose}: a {@link Variant} changes a calibrated model (calibration
 * nodes replaced or switched off, constants replaced, a per-channel constant added to a node's
 * output), and is measured without writing a model, by a hook on the float graph. Trials of one
 * node re-run only the graph downstream of what they change, from a float snapshot per batch.
 */
final class FixTrials {
  private FixTrials() {}

  /** A change to the calibrated model; immutable once built, except its weight cache. */
  static final class Variant {
    final Map<String, CalibrationNode> replace = new LinkedHashMap<>();
    final Set<String> disable = new LinkedHashSet<>();
    final Map<String, INDArray> constants = new LinkedHashMap<>();
    /** Output tensor → (producing node, channel axis, per-channel value added). */
    final Map<String, Shift> shifts = new LinkedHashMap<>();

    record Shift(String node, int axis, float[] delta) {}

    boolean isEmpty() {
      return replace.isEmpty() && disable.isEmpty() && constants.isEmpty() && shifts.isEmpty();
    }

    /** This variant, then {@code other} on top (other's entries win). */
    Variant plus(Variant other) {
      Variant v = new Variant();
      v.replace.putAll(replace);
      v.disable.addAll(disable);
      v.constants.putAll(constants);
      v.shifts.putAll(shifts);
      v.replace.putAll(other.replace);
      v.disable.addAll(other.disable);
      v.constants.putAll(other.constants);
      v.shifts.putAll(other.shifts);
      return v;
    }

    /** This variant without the output shift of {@code tensor} (a node that goes back to float). */
    Variant withoutShift(String tensor) {
      Variant v = plus(new Variant());
      v.shifts.remove(tensor);
      return v;
    }

    /**
     * This variant with the calibration nodes {@code calNames} and the output shift of {@code
     * tensor} as they are in {@code before} (undoing what a later step changed there).
     */
    Variant restore(Variant before, Collection<String> calNames, String tensor) {
      Variant v = plus(new Variant());
      for (String c : calNames) {
        v.replace.remove(c);
        if (before.replace.containsKey(c)) {
          v.replace.put(c, before.replace.get(c));
        }
        v.disable.remove(c);
        if (before.disable.contains(c)) {
          v.disable.add(c);
        }
      }
      v.shifts.remove(tensor);
      if (before.shifts.containsKey(tensor)) {
        v.shifts.put(tensor, before.shifts.get(tensor));
      }
      return v;
    }

    /** The calibration nodes of {@code model} with this variant's replacements. */
    List<CalibrationNode> nodes(CalibratedModel model) {
      List<CalibrationNode> out = new ArrayList<>();
      for (CalibrationNode c : model.nodes()) {
        out.add(replace.getOrDefault(c.name(), c));
      }
      return out;
    }

    /** {@code enabled} minus the nodes this variant switches off. */
    Set<String> enabled(Collection<String> enabled) {
      Set<String> on = new LinkedHashSet<>(enabled);
      on.removeAll(disable);
      return on;
    }

    /** The float model with the new constants and the output shifts folded into biases. */
    OnnxModel floatModel(OnnxModel base) {
      OnnxModel m = ModelEdits.withInitializers(base, constants);
      for (Shift s : shifts.values()) {
        m = BiasCorrection.fold(m, s.node(), s.delta());
      }
      return m;
    }
  }

  /**
   * The fake-quantized weights of the calibrated model's own weight nodes (its parameters, its
   * constants), shared by every variant: at most one copy of the model's weights, whatever the
   * number of trials. A weight a variant changes (other parameters, or an equalized constant) is
   * fake-quantized during each run, in the run's workspace, and freed with it.
   */
  static final class Shared {
    final Map<CalibrationNode, INDArray> weights = new ConcurrentHashMap<>();
  }

  /**
   * The hook that runs {@code model} with {@code v} applied and the calibration nodes {@code
   * enabled} (names, before the variant switches some off) switched on.
   */
  static TensorHook hook(CalibratedModel model, Variant v, Collection<String> enabled, Shared shared) {
    Map<String, CalibrationNode> active = new LinkedHashMap<>();
    for (String name : v.enabled(enabled)) {
      CalibrationNode c = model.node(name);
      c = v.replace.getOrDefault(c.name(), c);
      active.put(c.tensor(), c);
    }
    return (tensor, value) -> {
      INDArray x = value;
      INDArray c = v.constants.get(tensor);
      if (c != null) {
        x = c;
      }
      Variant.Shift s = v.shifts.get(tensor);
      if (s != null) {
        x = BiasCorrection.add(x, s.axis(), s.delta());
      }
      CalibrationNode n = active.get(tensor);
      if (n == null) {
        return x;
      }
      if (n.kind() == TensorKind.WEIGHT && c == null && n.equals(model.node(n.name()))) {
        INDArray w = x;
        return shared.weights.computeIfAbsent(
            n, k -> Workspaces.outside(() -> FakeQuant.apply(w, n.params())));
      }
      return FakeQuant.apply(x, n.params());
    };
  }

  /** The tensors a variant with {@code enabled} switched on changes, for a downstream re-run. */
  static Set<String> changed(CalibratedModel model, Variant v, Collection<String> enabled) {
    Set<String> t = new LinkedHashSet<>();
    for (String name : v.enabled(enabled)) {
      t.add(model.node(name).tensor());
    }
    t.addAll(v.constants.keySet());
    t.addAll(v.shifts.keySet());
    return t;
  }

  /** A trial: a variant measured with {@code scope} (calibration node names) switched on. */
  record Trial(Variant variant, Set<String> scope) {}

  /** What a streamed pass measured: per trial, its output cosine and (with labels) top-1. */
  static final class Scores {
    final double[] cosine;
    final long[] correct;
    long floatCorrect;
    int samples;
    final boolean labeled;

    Scores(int trials, boolean labeled) {
      this.cosine = new double[trials];
      this.correct = new long[trials];
      this.labeled = labeled;
    }

    /** Top-1 of trial {@code i} (NaN without labels). */
    double top1(int i) {
      return labeled && samples > 0 ? (double) correct[i] / samples : Double.NaN;
    }

    /** Top-1 of the float model on the same samples (NaN without labels). */
    double floatTop1() {
      return labeled && samples > 0 ? (double) floatCorrect / samples : Double.NaN;
    }
  }

  /**
   * Sees each sample's result: trial index (-1 for the float model), sample index, cosine, class;
   * called from the trials' threads ({@link Workers}), for each trial and sample once.
   */
  interface PerSample {
    void accept(int trial, int sample, double cosine, int prediction);
  }

  /**
   * Measures every trial on the first {@code n} samples of {@code data} in one streamed pass:
   * per batch (sized by the memory budget, {@link BatchPlan#SWEEP}), one float snapshot that keeps
   * only what the trials' re-runs read plus the graph outputs, each trial re-run downstream of
   * what it changes, its metrics accumulated, and the snapshot freed before the next batch. Memory
   * is one batch's tensors (and the shared fake-quantized weights), whatever the number of
   * samples or trials; the results do not depend on how the samples are batched.
   *
   * <p>Output cosine: the mean over samples and graph outputs of the cosine similarity with the
   * float model (NaN samples dropped). Top-1 (with {@code labels}): the first output's argmax
   * against the label.
   *
   * @param labels the labels of {@code data}, or null for output cosine only
   * @param perSample sees every sample's result (null: none)
   */
  static Scores measure(
      CalibratedModel model,
      SampleSet data,
      int n,
      List<Trial> trials,
      long[] labels,
      Shared shared,
      PerSample perSample,
      Runnable tick) {
    List<String> outputs = model.floatModel().outputs().stream().map(v -> v.name()).toList();
    Scores out = new Scores(trials.size(), labels != null);
    double[] sum = new double[trials.size()];
    int[] count = new int[trials.size()];
    Set<String> mayChange = new LinkedHashSet<>();
    List<Set<String>> changed = new ArrayList<>();
    List<TensorHook> hooks = new ArrayList<>();
    for (Trial t : trials) {
      Set<String> c = changed(model, t.variant(), t.scope());
      changed.add(c);
      mayChange.addAll(c);
      hooks.add(hook(model, t.variant(), t.scope(), shared));
    }
    Workers.Sweep sweep = Workers.Sweep.of(model.session(), data, n, "diagnose");
    for (BatchPlan.Batch batch : sweep.batches()) {
      int c = batch.size();
      try (Snapshot base = model.session().snapshot(data.batch(batch.samples()), mayChange, outputs)) {
        List<float[][]> ref = new ArrayList<>();
        for (String o : outputs) {
          ref.add(PartialModels.perSample(base.get(o), c));
        }
        int[] fp = labels != null || perSample != null ? argmax(ref.get(0)) : null;
        for (int s = 0; s < c; s++) {
          if (labels != null && fp[s] == labels[batch.sample(s)]) {
            out.floatCorrect++;
          }
          if (perSample != null) {
            perSample.accept(-1, batch.sample(s), 1.0, fp[s]);
          }
        }
        out.samples += c;
        int[] ticked = {0};
        // trials on both cores for a small model: each writes its own sums and counts
        sweep.run(
            trials.size(),
            i -> {
              Map<String, INDArray> got =
                  model.session().rerun(
                      base, changed.get(i), RunOptions.outputs(outputs).hook(hooks.get(i)));
              double[] cosOf = new double[c];
              for (int k = 0; k < outputs.size(); k++) {
                float[][] q = PartialModels.perSample(got.get(outputs.get(k)), c);
                for (int s = 0; s < c; s++) {
                  double x = Metric.COSINE_SIMILARITY.compute(ref.get(k)[s], q[s]);
                  cosOf[s] += x / outputs.size();
                  if (!Double.isNaN(x)) {
                    sum[i] += x;
                    count[i]++;
                  }
                }
              }
              if (labels != null || perSample != null) {
                int[] p = argmax(PartialModels.perSample(got.get(outputs.get(0)), c));
                for (int s = 0; s < c; s++) {
                  if (labels != null && p[s] == labels[batch.sample(s)]) {
                    out.correct[i]++;
                  }
                  if (perSample != null) {
                    perSample.accept(i, batch.sample(s), cosOf[s], p[s]);
                  }
                }
              }
            },
            finished -> {
              for (; ticked[0] < finished; ticked[0]++) {
                tick.run();
              }
            });
      }
    }
    for (int i = 0; i < trials.size(); i++) {
      out.cosine[i] = count[i] == 0 ? Double.NaN : sum[i] / count[i];
    }
    return out;
  }

  /** Each row's index of its largest value (the first on ties). */
  static int[] argmax(float[][] rows) {
    int[] out = new int[rows.length];
    for (int i = 0; i < rows.length; i++) {
      int best = 0;
      for (int k = 1; k < rows[i].length; k++) {
        if (rows[i][k] > rows[i][best]) {
          best = k;
        }
      }
      out[i] = best;
    }
    return out;
  }

  /** For each trial, the output cosine on the first {@code n} samples (see {@link #measure}). */
  static double[] outputCosines(
      CalibratedModel model, SampleSet data, int n, List<Trial> trials, Shared shared, Runnable tick) {
    return measure(model, data, n, trials, null, shared, null, tick).cosine;
  }

  /** Top-1 on the first {@code limit} labeled samples of {@code model} with {@code v} applied. */
  static double top1(
      CalibratedModel model, Variant v, Collection<String> enabled, SampleSet labeled, int limit, Shared shared) {
    long[] labels = labeled.labels();
    int[] p = predictions(model, v, enabled, labeled, limit, shared);
    long correct = 0;
    for (int i = 0; i < p.length; i++) {
      if (p[i] == labels[i]) {
        correct++;
      }
    }
    return (double) correct / p.length;
  }

  /** The predicted class (first output's argmax) of the first {@code limit} samples (0: all). */
  static int[] predictions(
      CalibratedModel model, Variant v, Collection<String> enabled, SampleSet labeled, int limit, Shared shared) {
    int n = limit > 0 ? Math.min(limit, labeled.size()) : labeled.size();
    int[] pred = new int[n];
    String output = model.floatModel().outputs().get(0).name();
    TensorHook hook = hook(model, v, enabled, shared);
    Workers.Sweep pass = Workers.Sweep.of(model.session(), labeled, n, BatchPlan.FORWARD, "diagnose");
    List<BatchPlan.Batch> batches = pass.plan().inOrder();
    // batches on both cores for a small model: each writes its own samples' predictions
    pass.run(
        batches.size(),
        b -> {
          BatchPlan.Batch batch = batches.get(b);
          int from = batch.sample(0);
          int count = batch.size();
          INDArray scores =
              model.session()
                  .run(labeled.batch(batch.samples()), RunOptions.outputs(output).hook(hook))
                  .get(output);
          float[] s = scores.dup('c').data().asFloat();
          int classes = (int) (s.length / count);
          for (int i = 0; i < count; i++) {
            int best = 0;
            for (int k = 1; k < classes; k++) {
              if (s[i * classes + k] > s[i * classes + best]) {
                best = k;
              }
            }
            pred[from + i] = best;
          }
        },
        done -> {});
    return pred;
  }
}
