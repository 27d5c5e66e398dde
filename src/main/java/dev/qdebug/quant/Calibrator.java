package dev.qdebug.quant;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.Plan;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Session;
import dev.qdebug.metrics.Metric;
import dev.qdebug.onnx.OnnxModel;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Calibrates a float model on sample data: picks the tensors to quantize ({@link QuantRule}),
 * weights from their values (max, per channel by default), activations by streaming the samples
 * through the float model in batches while observers accumulate statistics (one pass, whatever
 * the method), then turns each range into parameters with the one shared rule, {@link QParams#of}.
 *
 * <pre>{@code
 * CalibratedModel cal = Calibrator.calibrate(model, SampleSet.open(dir, model.inputs()),
 *     Calibrator.Options.defaults().method(CalibrationMethod.KL), Progress.NONE);
 * }</pre>
 */
public final class Calibrator {
  /** Horizon's percentile when its default method tries "max-percentile". */
  static final double DEFAULT_PERCENTILE = 99.995;

  /** Samples the default method compares candidates on (Horizon: the first calibration data). */
  static final int DEFAULT_SELECTION_SAMPLES = 4;

  /**
   * Calibration options. Weights are always quantized symmetrically with max; {@code symmetric}
   * applies to activations.
   */
  public record Options(
      CalibrationMethod method,
      double percentile,
      QType weightType,
      QType activationType,
      boolean perChannel,
      boolean symmetric,
      int dataNum,
      int batchSize) {
    public Options {
      if (!(percentile > 0 && percentile <= 100)) {
        throw new UsageException("--percentile: " + percentile + " is not in (0, 100]");
      }
      if (batchSize < 1) {
        throw new UsageException("batch size must be at least 1, got " + batchSize);
      }
    }

    /** Default method, percentile 99.99, int8 weights per channel, int8 symmetric activations. */
    public static Options defaults() {
      return new Options(
          CalibrationMethod.DEFAULT, 99.99, QType.INT8, QType.INT8, true, true, 0, 8);
    }

    public Options method(CalibrationMethod m) {
      return new Options(m, percentile, weightType, activationType, perChannel, symmetric, dataNum, batchSize);
    }

    public Options percentile(double p) {
      return new Options(method, p, weightType, activationType, perChannel, symmetric, dataNum, batchSize);
    }

    public Options weightType(QType t) {
      return new Options(method, percentile, t, activationType, perChannel, symmetric, dataNum, batchSize);
    }

    public Options activationType(QType t) {
      return new Options(method, percentile, weightType, t, perChannel, symmetric, dataNum, batchSize);
    }

    public Options perChannel(boolean b) {
      return new Options(method, percentile, weightType, activationType, b, symmetric, dataNum, batchSize);
    }

    public Options symmetric(boolean b) {
      return new Options(method, percentile, weightType, activationType, perChannel, b, dataNum, batchSize);
    }

    /** Use the first {@code n} samples (0 = all). */
    public Options dataNum(int n) {
      return new Options(method, percentile, weightType, activationType, perChannel, symmetric, n, batchSize);
    }

    public Options batchSize(int n) {
      return new Options(method, percentile, weightType, activationType, perChannel, symmetric, dataNum, n);
    }

    /** Horizon-style name of the configuration: {@code kl}, {@code percentile_asy_perchannel}. */
    public String label(CalibrationMethod m) {
      return m.label() + (symmetric ? "" : "_asy") + (perChannel ? "_perchannel" : "");
    }
  }

  /** The calibrated model and how it was chosen. */
  public record Result(CalibratedModel model, CalibrationMethod method, String label, Map<CalibrationMethod, Double> candidateCosines) {}

  private Calibrator() {}

  /** Calibrates {@code model} on {@code data}; every node of the result is switched on. */
  public static CalibratedModel calibrate(
      OnnxModel model, SampleSet data, Options options, Progress progress) {
    return run(model, data, options, progress).model();
  }

  /** As {@link #calibrate}, also telling which method was kept and the candidates' scores. */
  public static Result run(OnnxModel model, SampleSet data, Options o, Progress progress) {
    Session session = Session.open(model);
    Plan plan = session.plan();
    Map<String, QuantRule.Target> targets = QuantRule.select(plan);
    int n = o.dataNum() > 0 ? Math.min(o.dataNum(), data.size()) : data.size();

    List<CalibrationNode> weights = new ArrayList<>();
    List<String> activations = new ArrayList<>();
    for (QuantRule.Target t : targets.values()) {
      if (t.kind() == TensorKind.WEIGHT) {
        int axis = o.perChannel() ? t.axis() : -1;
        MaxObserver obs = new MaxObserver(axis);
        INDArray w = plan.constant(t.tensor());
        requireFinite(w, t.tensor(), model.source() + ": weight", "the model holds it");
        obs.observe(w);
        QParams p = obs.range().toParams(o.weightType(), true);
        weights.add(CalibrationNode.of(t.tensor(), TensorKind.WEIGHT, p, true, "max"));
      } else {
        activations.add(t.tensor());
      }
    }

    List<CalibrationMethod> methods =
        o.method() == CalibrationMethod.DEFAULT
            ? List.of(CalibrationMethod.MAX, CalibrationMethod.PERCENTILE, CalibrationMethod.KL)
            : List.of(o.method());
    double percentile = o.method() == CalibrationMethod.DEFAULT ? DEFAULT_PERCENTILE : o.percentile();
    Map<CalibrationMethod, Map<String, Observer>> observers = new EnumMap<>(CalibrationMethod.class);
    Map<String, List<Observer>> byTensor = new LinkedHashMap<>();
    for (CalibrationMethod m : methods) {
      Map<String, Observer> obs = new LinkedHashMap<>();
      for (String t : activations) {
        Observer ob = m.observer(o.activationType(), o.symmetric(), percentile);
        obs.put(t, ob);
        byTensor.computeIfAbsent(t, k -> new ArrayList<>()).add(ob);
      }
      observers.put(m, obs);
    }
    java.util.Set<String> notFloat = new java.util.HashSet<>();
    int[] inBatch = {1};
    int[] at = {0}; // the first sample being run, for errors
    // declared: called for the observed tensors only, fused steps used where they skip none
    RunOptions observe =
        RunOptions.hooked(dev.qdebug.engine.TensorHook.only(byTensor.keySet(),
            (tensor, value) -> {
              List<Observer> obs = byTensor.get(tensor);
              if (obs != null && value.dataType() != org.nd4j.linalg.api.buffer.DataType.FLOAT) {
                notFloat.add(tensor); // shape arithmetic (int64 Concat inputs...): not quantized
              } else if (obs != null) {
                requireFinite(
                    value, tensor,
                    data.dir() + ": calibration sample" + (inBatch[0] == 1 ? " " + at[0]
                        : "s " + at[0] + ".." + (at[0] + inBatch[0] - 1)) + ": tensor",
                    "finite inputs overflow float32 inside the model");
                // one sample at a time, in sample order: what the observers accumulate (histogram
                // ranges grow with what they have seen) is the same however samples are batched
                for (INDArray part : perSample(value, inBatch[0])) {
                  for (Observer ob : obs) {
                    ob.observe(part);
                  }
                }
              }
              return value;
            }));
    try (session) {
      int done = 0;
      for (BatchPlan.Batch b :
          BatchPlan.of(session, data, n, BatchPlan.FORWARD, "calibrate", o.batchSize()).inOrder()) {
        inBatch[0] = b.size();
        at[0] = b.sample(0);
        session.run(data.batch(b.samples()), observe);
        done += b.size();
        progress.update("calibrate", done, n);
      }
    }

    Map<CalibrationMethod, CalibratedModel> candidates = new EnumMap<>(CalibrationMethod.class);
    for (CalibrationMethod m : methods) {
      List<CalibrationNode> nodes = new ArrayList<>(weights);
      String how = m == CalibrationMethod.PERCENTILE ? "percentile " + percentile : m.label();
      for (Map.Entry<String, Observer> e : observers.get(m).entrySet()) {
        if (notFloat.contains(e.getKey())) {
          continue;
        }
        QParams p = e.getValue().range().toParams(o.activationType(), o.symmetric());
        nodes.add(CalibrationNode.of(e.getKey(), TensorKind.ACTIVATION, p, o.symmetric(), how));
      }
      CalibratedModel cm = new CalibratedModel(model, nodes, List.of());
      cm.enableAll();
      candidates.put(m, cm);
    }
    if (methods.size() == 1) {
      CalibrationMethod m = methods.get(0);
      return new Result(candidates.get(m), m, o.label(m), Map.of());
    }
    Map<CalibrationMethod, Double> scores = new EnumMap<>(CalibrationMethod.class);
    CalibrationMethod best = null;
    int k = Math.min(DEFAULT_SELECTION_SAMPLES, n);
    for (CalibrationMethod m : methods) {
      double score = outputCosine(candidates.get(m), data, k);
      scores.put(m, score);
      if (best == null || score > scores.get(best)) {
        best = m;
      }
    }
    for (CalibrationMethod m : methods) {
      if (m != best) {
        candidates.get(m).close();
      }
    }
    return new Result(candidates.get(best), best, o.label(best), scores);
  }

  /**
   * Refuses a tensor with NaN or infinite values (finite inputs that overflow inside the net):
   * no range, so no scale, can be computed from it.
   */
  static void requireFinite(INDArray value, String tensor, String where, String why) {
    if (value.dataType() != org.nd4j.linalg.api.buffer.DataType.FLOAT) {
      return;
    }
    // one native pass (NaN or ±Inf); the copy below runs only on the failure path
    if (!org.nd4j.linalg.indexing.BooleanIndexing.or(
        value, org.nd4j.linalg.indexing.conditions.Conditions.notFinite())) {
      return;
    }
    throw nonFinite(value, tensor, where, why);
  }

  /** The error for a tensor known to hold a NaN or infinite value, naming the first. */
  static dev.qdebug.DataException nonFinite(INDArray value, String tensor, String where, String why) {
    float[] v = value.dup('c').data().asFloat();
    int i = 0;
    while (i < v.length - 1 && Float.isFinite(v[i])) {
      i++;
    }
    return new dev.qdebug.DataException(
        where + " '" + tensor + "' holds " + v[i] + " at flat index " + i + " (" + why
            + "; quantization needs finite values)");
  }

  /**
   * {@code value} cut into {@code count} equal parts along its first dimension (each sample's part
   * of a batched tensor, in order), or whole when it cannot be.
   */
  public static List<INDArray> perSample(INDArray value, int count) {
    if (count == 1 || value.rank() == 0 || value.size(0) % count != 0 || value.size(0) == 0) {
      return List.of(value);
    }
    long rows = value.size(0) / count;
    List<INDArray> out = new ArrayList<>(count);
    for (int s = 0; s < count; s++) {
      out.add(
          value.get(
              org.nd4j.linalg.indexing.NDArrayIndex.interval(s * rows, (s + 1) * rows)));
    }
    return out;
  }

  /** Mean over the first {@code k} samples and every graph output of the output cosine. */
  static double outputCosine(CalibratedModel cm, SampleSet data, int k) {
    double sum = 0;
    int count = 0;
    for (BatchPlan.Batch batch :
        BatchPlan.of(cm.session(), data, k, BatchPlan.FORWARD, "calibrate").inOrder()) {
      Map<String, INDArray> in = data.batch(batch.samples());
      Map<String, INDArray> f = cm.run(in, List.of(), RunOptions.defaults());
      Map<String, INDArray> q = cm.run(in, cm.enabled(), RunOptions.defaults());
      for (String name : f.keySet()) {
        List<INDArray> fs = perSample(f.get(name), batch.size());
        List<INDArray> qs = perSample(q.get(name), batch.size());
        for (int s = 0; s < fs.size(); s++) {
          float[] a = fs.get(s).dup('c').data().asFloat();
          float[] b = qs.get(s).dup('c').data().asFloat();
          sum += Metric.cosine(a, b);
          count++;
        }
      }
    }
    return sum / count;
  }
}
