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
  /** Samples per forward pass. */
  static final int BATCH = 16;

  private FixTrials() {}

  /** A change to the calibrated model; immutable once built, except its weight cache. */
  static final class Variant {
    final Map<String, CalibrationNode> replace = new LinkedHashMap<>();
    final Set<String> disable = new LinkedHashSet<>();
    final Map<String, INDArray> constants = new LinkedHashMap<>();
    /** Output tensor → (producing node, channel axis, per-channel value added). */
    final Map<String, Shift> shifts = new LinkedHashMap<>();
    final Map<String, INDArray> weightCache = new ConcurrentHashMap<>();

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

  /** Fake-quantized unchanged weights, shared by every variant (keyed by node and parameters). */
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
      if (n.kind() == TensorKind.WEIGHT) {
        INDArray w = x;
        if (c != null) {
          return v.weightCache.computeIfAbsent(
              n.name() + "|" + n.params().hashCode(),
              k -> Workspaces.outside(() -> FakeQuant.apply(w, n.params())));
        }
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

  /**
   * For each trial, the mean over the first {@code n} samples (and over graph outputs) of the
   * output cosine similarity with the float model; each batch runs the float model once and each
   * trial re-runs only the graph downstream of what it changes.
   */
  static double[] outputCosines(
      CalibratedModel model, SampleSet data, int n, List<Trial> trials, Shared shared, Runnable tick) {
    List<String> outputs = model.floatModel().outputs().stream().map(v -> v.name()).toList();
    double[] sum = new double[trials.size()];
    int[] count = new int[trials.size()];
    for (BatchPlan.Batch batch_ : BatchPlan.of(model.session(), data, n, BatchPlan.SWEEP, "diagnose").inOrder()) {
      int from = batch_.sample(0);
      int c = batch_.size();
      Snapshot base = model.floatSnapshot(data.batch(from, c));
      for (int i = 0; i < trials.size(); i++) {
        Trial t = trials.get(i);
        Map<String, INDArray> got =
            model.session()
                .rerun(
                    base,
                    changed(model, t.variant(), t.scope()),
                    RunOptions.outputs(outputs).hook(hook(model, t.variant(), t.scope(), shared)));
        for (String o : outputs) {
          float[][] f = PartialModels.perSample(base.get(o), c);
          float[][] q = PartialModels.perSample(got.get(o), c);
          for (int s = 0; s < c; s++) {
            double x = Metric.COSINE_SIMILARITY.compute(f[s], q[s]);
            if (!Double.isNaN(x)) {
              sum[i] += x;
              count[i]++;
            }
          }
        }
        tick.run();
      }
    }
    double[] out = new double[trials.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = count[i] == 0 ? Double.NaN : sum[i] / count[i];
    }
    return out;
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
    for (BatchPlan.Batch batch_ : BatchPlan.of(model.session(), labeled, n, BatchPlan.FORWARD, "diagnose").inOrder()) {
      int from = batch_.sample(0);
      int count = batch_.size();
      INDArray scores =
          model.session().run(labeled.batch(batch_.samples()), RunOptions.outputs(output).hook(hook)).get(output);
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
    }
    return pred;
  }
}
