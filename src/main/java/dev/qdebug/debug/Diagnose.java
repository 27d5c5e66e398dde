package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.Plan;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Snapshot;
import dev.qdebug.engine.TensorHook;
import dev.qdebug.engine.Workspaces;
import dev.qdebug.metrics.Metric;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.quant.BiasCorrection;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.CrossLayerEqualization;
import dev.qdebug.quant.FakeQuant;
import dev.qdebug.quant.MaxObserver;
import dev.qdebug.quant.Observer;
import dev.qdebug.quant.PercentileObserver;
import dev.qdebug.quant.QParams;
import dev.qdebug.quant.QType;
import dev.qdebug.quant.QuantRule;
import dev.qdebug.quant.Range;
import dev.qdebug.quant.TensorKind;
import dev.qdebug.viz.Figures;
import dev.qdebug.viz.Html;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;

/**
 * From diagnosis to fix (beyond Horizon and its peers, which stop at showing): for each of the
 * most sensitive nodes, the cause of its error with the numbers that show it, a trial of every
 * fix that applies to that node alone, and a fixed model that combines the winners.
 *
 * <p><b>Causes</b> (each with its evidence): per-tensor weights stretched by a few channels
 * (largest channel range over the median one, and the share of weights that round to 0); weight
 * outliers inside channels (a channel's largest weight over its rms); activation clipping (share
 * of values beyond the range, and the share of the node's activation error that clipping causes
 * against rounding); a long-tailed activation (max |x| over its 99.99th percentile); a one-sided
 * activation on a symmetric grid (the negative half of the grid unused); a systematic output
 * shift per channel (the share of the output error that the per-channel mean shift explains);
 * amplification (the error of the node's output in the calibrated model much larger than with the
 * node quantized alone: a victim of upstream error, with the most sensitive upstream node named).
 *
 * <p><b>Fix trials</b>, each applied to one node alone with everything else float, measured by
 * the output cosine similarity on the calibration samples against the node quantized as
 * calibrated: per-channel weights; another activation range method (percentile, MSE, KL, max);
 * asymmetric activation; int16 weights or activation; bias correction (the mean per-channel
 * output shift, measured on the calibration data, folded into the bias); cross-layer equalization
 * with the neighbouring Conv/Gemm/MatMul around a ReLU (float function unchanged); and leaving
 * the node in float as the reference. Each trial re-runs only the graph downstream of what it
 * changes, from one float snapshot per batch of samples. With a labeled set the same trials are
 * also measured by top-1 (on the first {@link Options#trialEvalNum} labeled samples: the
 * reference, the baselines and every fix that raises the output cosine), and ranked by top-1 gain,
 * then output cosine gain ({@link Trial#BY_GAIN}).
 *
 * <p><b>The fixed model</b>: the winning fixes, best gain first, are added one at a time to the
 * full calibrated model and kept only when the full model's output cosine improves, until the
 * target is met (top-1 as a fraction of float top-1 with a labeled set, else output cosine):
 * first the fixes that cost nothing at run time, then a sequential bias correction of every
 * quantized matrix node ({@link #sequentialBiasCorrection}: each shift measured with everything
 * upstream quantized and corrected), then int16 (weights or activation) for the nodes
 * still short of it (twice: a trial the full model rejected may help once others are in). When
 * the fixes do not reach it, the diagnosed nodes are raised to int16 one at a time in sensitivity
 * order (the victims of upstream error last), each kept whatever the step shows (in a collapsed
 * model no single node moves the output: the gain shows only together), and only then go back
 * to float, those no int16 fix helped first, each group in sensitivity order, until it is met:
 * int16 costs an accelerator less than float. Once met, each of these fallback steps is undone
 * in turn, the last first, where the target still holds without it. The result is standard QDQ ONNX (with equalized or bias-corrected weights
 * where those won), compared with float, calibrated, and the same number of top sensitive nodes
 * left in float. Its float graph carries the corrected biases, so its output cosine is measured
 * against the original float model.
 *
 * <p><b>Which samples, which nodes</b>: the samples whose prediction quantization flips (with a
 * labeled set) or whose output degrades most, each with the diagnosed nodes that alone degrade
 * it most ({@link SampleCulprits}), and a gallery page (thumbnails of image inputs).
 *
 * <p>Memory: every pass streams batch by batch ({@link FixTrials#measure}): nothing of a batch
 * outlives it, so memory does not grow with the samples, the nodes diagnosed or the trials.
 *
 * <p>Cost: one sensitivity ranking, one statistics pass and one trial pass over the calibration
 * samples (each a float snapshot per batch plus downstream re-runs), then one full run per
 * combination step (and one top-1 run per kept step with a labeled set).
 */
public final class Diagnose {
  /** What the target measures. */
  public enum TargetMetric {
    /** Top-1 on a labeled set, as a fraction of the float model's. */
    TOP1,
    /** Mean output cosine similarity with float on the calibration samples. */
    COSINE;

    public String label() {
      return this == TOP1 ? "top-1" : "cosine-similarity";
    }

    public static TargetMetric parse(String s) {
      String x = s.strip().toLowerCase(Locale.ROOT);
      return switch (x) {
        case "top-1", "top1", "accuracy" -> TOP1;
        case "cosine", "cosine-similarity" -> COSINE;
        default ->
            throw new UsageException(
                "--target-metric: '" + s + "' is not one of top-1, cosine-similarity");
      };
    }
  }

  /**
   * Options.
   *
   * @param top how many of the most sensitive nodes to diagnose (when {@code nodes} is null)
   * @param nodes the nodes to diagnose, in this order; null for the top of the ranking
   * @param dataNum calibration samples for the ranking, statistics, trials and output cosine (0:
   *     all)
   * @param dataset labeled data for top-1 (null: none)
   * @param evalNum labeled samples for top-1 (0: all)
   * @param target the fraction of float top-1 to reach, or the output cosine, in (0, 1]
   * @param targetMetric null: top-1 when a dataset is given, else cosine
   * @param floatAccuracy float top-1 on the same labeled samples when known; null to compute it
   * @param samples how many flipped (labeled) or most degraded (unlabeled) samples to explain with
   *     their culprit nodes (0: none)
   * @param trialEvalNum labeled samples on which the fix trials (each node alone) are also measured
   *     by top-1: the first of the {@code evalNum} (0: all of them)
   */
  public record Options(
      int top,
      List<String> nodes,
      int dataNum,
      Path dataset,
      int evalNum,
      double target,
      TargetMetric targetMetric,
      Double floatAccuracy,
      int samples,
      int trialEvalNum) {
    /** Labeled samples for the fix trials' top-1 unless told: {@value}. */
    public static final int TRIAL_EVAL_NUM = 256;

    public Options {
      if (trialEvalNum < 0) {
        throw new UsageException("--trial-eval-num: " + trialEvalNum + " is negative");
      }
      if (samples < 0) {
        throw new UsageException("--samples: " + samples + " is negative");
      }
      if (top < 1) {
        throw new UsageException("--top: " + top + " is not a positive number of nodes");
      }
      if (!(target > 0 && target <= 1)) {
        throw new UsageException("--target: " + target + " is not in (0, 1]");
      }
      if (targetMetric == TargetMetric.TOP1 && dataset == null) {
        throw new UsageException("--target-metric top-1 needs --dataset (labeled data)");
      }
      if (evalNum < 0) {
        throw new UsageException("--eval-num: " + evalNum + " is negative");
      }
      if (nodes != null) {
        nodes = List.copyOf(nodes);
      }
    }

    /** Top 10 nodes, 16 samples, no labeled set, target 0.99. */
    public static Options defaults() {
      return new Options(10, null, 16, null, 0, 0.99, null, null, 8, TRIAL_EVAL_NUM);
    }

    public Options top(int n) {
      return new Options(n, nodes, dataNum, dataset, evalNum, target, targetMetric, floatAccuracy, samples, trialEvalNum);
    }

    public Options nodes(List<String> n) {
      return new Options(top, n, dataNum, dataset, evalNum, target, targetMetric, floatAccuracy, samples, trialEvalNum);
    }

    public Options dataNum(int n) {
      return new Options(top, nodes, n, dataset, evalNum, target, targetMetric, floatAccuracy, samples, trialEvalNum);
    }

    public Options dataset(Path d) {
      return new Options(top, nodes, dataNum, d, evalNum, target, targetMetric, floatAccuracy, samples, trialEvalNum);
    }

    public Options evalNum(int n) {
      return new Options(top, nodes, dataNum, dataset, n, target, targetMetric, floatAccuracy, samples, trialEvalNum);
    }

    public Options target(double t) {
      return new Options(top, nodes, dataNum, dataset, evalNum, t, targetMetric, floatAccuracy, samples, trialEvalNum);
    }

    public Options targetMetric(TargetMetric m) {
      return new Options(top, nodes, dataNum, dataset, evalNum, target, m, floatAccuracy, samples, trialEvalNum);
    }

    public Options floatAccuracy(Double a) {
      return new Options(top, nodes, dataNum, dataset, evalNum, target, targetMetric, a, samples, trialEvalNum);
    }

    /** How many flipped (labeled) or most degraded samples to explain with their culprit nodes. */
    public Options samples(int n) {
      return new Options(top, nodes, dataNum, dataset, evalNum, target, targetMetric, floatAccuracy, n, trialEvalNum);
    }

    /** Labeled samples for the fix trials' top-1 (0: all of {@code evalNum}). */
    public Options trialEvalNum(int n) {
      return new Options(top, nodes, dataNum, dataset, evalNum, target, targetMetric, floatAccuracy, samples, n);
    }

    /** The metric the target measures. */
    public TargetMetric metric() {
      return targetMetric != null ? targetMetric : dataset != null ? TargetMetric.TOP1 : TargetMetric.COSINE;
    }
  }

  /** A cause of a node's error: its name, how strongly the evidence shows it, and the numbers. */
  public record Cause(String name, double severity, String evidence) {}

  /**
   * One fix tried on one node: output cosine with the node alone quantized (as calibrated: {@code
   * baseline}; fixed: {@code cosine}), and with a labeled set the same for top-1 ({@code
   * baselineTop1}, {@code top1}; NaN without one, or for a fix not measured on it).
   */
  public record Trial(
      String node, String fix, double baseline, double cosine, double baselineTop1, double top1) {
    public Trial(String node, String fix, double baseline, double cosine) {
      this(node, fix, baseline, cosine, Double.NaN, Double.NaN);
    }

    /** The output cosine gain. */
    public double gain() {
      return cosine - baseline;
    }

    /** The top-1 gain (NaN when top-1 was not measured). */
    public double top1Gain() {
      return top1 - baselineTop1;
    }

    /** Whether top-1 was measured. */
    public boolean hasTop1() {
      return !Double.isNaN(top1) && !Double.isNaN(baselineTop1);
    }

    /**
     * Best first: by top-1 gain where measured (a trial without it counts as no top-1 gain), then
     * by output cosine gain.
     */
    public static final Comparator<Trial> BY_GAIN =
        Comparator.comparingDouble((Trial t) -> t.hasTop1() ? -(t.top1 - t.baselineTop1) : 0.0)
            .thenComparingDouble(t -> -t.gain());
  }

  /** The fix kept for a node in the fixed model. */
  public record Kept(String node, String fix) {}

  /**
   * The diagnosis.
   *
   * @param nodes the diagnosed nodes, most sensitive first
   * @param causes per node, its causes, strongest first (empty: plain rounding)
   * @param trials every fix tried, per node in trial order
   * @param kept the fixes of the fixed model, in the order they were added
   * @param reached whether the fixed model meets the target
   * @param threshold the value to reach (target times float top-1, or the cosine)
   * @param metrics per model variant ({@code float}, {@code calibrated}, {@code fixed}, {@code
   *     top-k in float}), its output cosine and top-1 (NaN without labeled data)
   * @param nodesInFloat how many nodes the fixed model leaves in float
   * @param nodesInInt16 how many it raises to int16 (weights or activation)
   * @param causeTable node, rank, sensitivity, cause, evidence, and the numbers
   * @param trialTable node, fix, baseline, cosine, gain
   * @param stepTable the greedy combination: step, node, fix, output cosine, top-1, kept
   * @param summary node, cause, evidence, fixes tried with their gains, kept fix
   * @param accuracy float / calibrated / fixed / top-k in float
   * @param figure the gain of every fix per node
   * @param samples per explained sample, why it was chosen and its culprit nodes
   * @param gallery an HTML page of those samples (thumbnails for image inputs) and culprits
   */
  public record Result(
      List<String> nodes,
      Map<String, List<Cause>> causes,
      List<Trial> trials,
      List<Kept> kept,
      boolean reached,
      double threshold,
      Map<String, double[]> metrics,
      int nodesInFloat,
      int nodesInInt16,
      Table causeTable,
      Table trialTable,
      Table stepTable,
      Table summary,
      Table accuracy,
      Figure figure,
      Table samples,
      String gallery,
      OnnxModel fixedFloatModel,
      List<CalibrationNode> fixedNodes,
      Set<String> fixedEnabled,
      Options options)
      implements Report {
    /** The fixed model as a calibrated model (caller closes it). */
    public CalibratedModel fixedModel() {
      return new CalibratedModel(fixedFloatModel, fixedNodes, fixedEnabled);
    }

    /** The primary cause of {@code node} ({@code rounding} when none stands out). */
    public String cause(String node) {
      List<Cause> c = causes.get(node);
      if (c == null) {
        throw new IllegalArgumentException("node '" + node + "' was not diagnosed");
      }
      return c.isEmpty() ? ROUNDING : c.get(0).name();
    }

    /** The fix kept for {@code node}, if any. */
    public Optional<String> keptFix(String node) {
      return kept.stream().filter(k -> k.node().equals(node)).map(Kept::fix).reduce((a, b) -> b);
    }

    /** Writes the fixed model as standard QDQ ONNX, atomically. */
    public void saveModel(Path file) {
      try (CalibratedModel m = fixedModel()) {
        m.save(file, fixedEnabled);
      }
    }

    /**
     * Writes {@code diagnose_causes.csv}, {@code diagnose_trials.csv} and {@code .html}, {@code
     * diagnose_steps.csv}, {@code diagnose_summary.csv}, {@code diagnose_accuracy.csv} and {@code
     * fixed_model.onnx}, {@code diagnose_samples.csv} and {@code .html}.
     */
    @Override
    public void save(Path dir) {
      Html.writeCsv(dir.resolve("diagnose_causes.csv"), causeTable);
      Html.writeCsv(dir.resolve("diagnose_trials.csv"), trialTable);
      Html.writeFigure(dir.resolve("diagnose_trials.html"), "fix trials", figure);
      Html.writeCsv(dir.resolve("diagnose_steps.csv"), stepTable);
      Html.writeCsv(dir.resolve("diagnose_summary.csv"), summary);
      Html.writeCsv(dir.resolve("diagnose_accuracy.csv"), accuracy);
      Html.writeCsv(dir.resolve("diagnose_samples.csv"), samples);
      Html.writeAtomically(dir.resolve("diagnose_samples.html"), gallery);
      saveModel(dir.resolve("fixed_model.onnx"));
    }
  }

  // cause names
  public static final String STRETCHED = "per-tensor weights stretched by a few channels";
  public static final String WEIGHT_OUTLIERS = "weight outliers inside channels";
  public static final String CLIPPING = "activation clipping";
  public static final String LONG_TAIL = "long-tailed activation";
  public static final String ONE_SIDED = "one-sided activation on a symmetric grid";
  public static final String BIAS = "systematic output shift (bias)";
  public static final String AMPLIFIED = "amplification of upstream error";
  public static final String ROUNDING = "rounding (no single cause stands out)";

  // fix names
  public static final String PER_CHANNEL = "per-channel weights";
  public static final String INT16_WEIGHTS = "int16 weights";
  public static final String MSE_WEIGHTS = "mse weight range";
  public static final String ASYMMETRIC = "asymmetric activation";
  public static final String INT16_ACTIVATION = "int16 activation";
  public static final String BIAS_CORRECTION = "bias correction";
  public static final String EQUALIZE = "cross-layer equalization";
  public static final String FLOAT = "leave in float";
  public static final String SEQUENTIAL_BIAS_CORRECTION = "sequential bias correction";

  /** The "node" of a fix applied to every quantized matrix node at once. */
  public static final String ALL_MATRIX_NODES = "(every quantized Conv/Gemm/MatMul)";

  private Diagnose() {}

  /** Per-tensor statistics of one activation calibration node's float input. */
  private static final class ActStats {
    final CalibrationNode cal;
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    long count;
    long clipped;
    double clipSq;
    double roundSq;
    final Observer p9999;
    final Map<String, Observer> ranges = new LinkedHashMap<>(); // fix name -> observer
    Observer asymmetric;

    ActStats(CalibrationNode cal) {
      this.cal = cal;
      QType t = cal.params().type();
      this.p9999 = new PercentileObserver(99.99, t, true);
      String current = cal.method().toLowerCase(Locale.ROOT);
      double pct = current.startsWith("percentile 99.99") && !current.startsWith("percentile 99.999") ? 99.999 : 99.99;
      if (!current.equals("percentile " + pct)) {
        ranges.put(
            "percentile " + pct + " range", new PercentileObserver(pct, t, cal.symmetric()));
      }
      for (CalibrationMethod m : List.of(CalibrationMethod.MSE, CalibrationMethod.KL, CalibrationMethod.MAX)) {
        if (!current.equals(m.label())) {
          ranges.put(m.label() + " range", m.observer(t, cal.symmetric(), pct));
        }
      }
      if (cal.symmetric()) {
        asymmetric = currentMethod(cal).observer(t, false, percentileOf(cal));
      }
    }

    void observe(INDArray x) {
      if (x.dataType() != DataType.FLOAT) {
        return;
      }
      float[] v = x.dup('c').data().asFloat();
      float[][] r = cal.params().representableRange();
      float lo = r[0][0];
      float hi = r[1][0];
      float[] q = FakeQuant.apply(x, cal.params()).dup('c').data().asFloat();
      for (int i = 0; i < v.length; i++) {
        double e = (double) q[i] - v[i];
        if (v[i] < lo || v[i] > hi) {
          clipped++;
          clipSq += e * e;
        } else {
          roundSq += e * e;
        }
        min = Math.min(min, v[i]);
        max = Math.max(max, v[i]);
      }
      count += v.length;
      p9999.observe(x);
      ranges.values().forEach(o -> o.observe(x));
      if (asymmetric != null) {
        asymmetric.observe(x);
      }
    }

    double absMax() {
      return Math.max(Math.abs(min), Math.abs(max));
    }
  }

  /** What is known of one diagnosed node. */
  private static final class NodeInfo {
    final String name;
    final OnnxNode node;
    final List<CalibrationNode> cals;
    final CalibrationNode weight; // may be null
    final List<CalibrationNode> activations = new ArrayList<>();
    final String output;
    BiasCorrection.Shift shift;
    double localSum;
    double accSum;
    int samples;
    CrossLayerEqualization.Pair pair;
    float[] cleScales;
    Observer cleBetween; // the equalized intermediate tensor's range, current method
    final List<Cause> causes = new ArrayList<>();
    final List<Fix> fixes = new ArrayList<>();
    double sensitivity = Double.NaN;

    NodeInfo(CalibratedModel model, String name) {
      this.name = name;
      this.node = model.floatModel().node(name);
      this.cals = model.calibrationsOf(name);
      CalibrationNode w = null;
      for (CalibrationNode c : cals) {
        if (c.kind() == TensorKind.WEIGHT && w == null) {
          w = c;
        } else if (c.kind() == TensorKind.ACTIVATION) {
          activations.add(c);
        }
      }
      this.weight = w;
      this.output = node.outputs().get(0);
    }

    Set<String> calNames() {
      Set<String> s = new LinkedHashSet<>();
      cals.forEach(c -> s.add(c.name()));
      return s;
    }
  }

  /** A fallback step of the combination (int16 or float for a node) and the state before it. */
  private record Fallback(NodeInfo info, String fix, FixTrials.Variant before) {}

  /** A fix of one node: its name, the change, the calibration nodes on while it is measured. */
  private record Fix(String name, FixTrials.Variant variant, Set<String> scope) {
    Set<String> touched(CalibratedModel model) {
      Set<String> t = new LinkedHashSet<>(variant.constants.keySet());
      t.addAll(variant.shifts.keySet());
      variant.replace.values().forEach(c -> t.add(c.tensor()));
      variant.disable.forEach(c -> t.add(model.node(c).tensor()));
      return t;
    }
  }

  /** Diagnoses the most sensitive nodes of {@code model} and builds the fixed model. */
  public static Result run(CalibratedModel model, SampleSet data, Options o, Progress progress) {
    int n = PartialModels.sampleCount(data, o.dataNum());
    TargetMetric metric = o.metric();
    SampleSet labeled = null;
    if (o.dataset() != null) {
      labeled = SampleSet.open(o.dataset(), model.floatModel().inputs());
      labeled.labels();
      if (o.evalNum() > labeled.size()) {
        throw new UsageException(
            "--eval-num: " + o.evalNum() + " samples asked, " + o.dataset() + " has " + labeled.size());
      }
    }
    // 1. the nodes: given, or the top of the sensitivity ranking
    List<String> ranking;
    Map<String, Double> sensitivity = new LinkedHashMap<>();
    List<String> chosen;
    if (o.nodes() != null) {
      for (String node : o.nodes()) {
        model.floatModel().node(node); // fails naming the closest nodes
        PartialModels.calibrationsOf(model, List.of(node), "--nodes");
      }
      chosen = new ArrayList<>(new LinkedHashSet<>(o.nodes()));
      ranking = chosen;
    } else {
      NodeSensitivity.Result s =
          NodeSensitivity.run(model, data, NodeSensitivity.Options.defaults().dataNum(n), progress);
      ranking = s.ranking();
      for (String r : ranking) {
        sensitivity.put(r, s.score(r, Metric.COSINE_SIMILARITY));
      }
      chosen = ranking.subList(0, Math.min(o.top(), ranking.size()));
    }
    Plan plan = model.session().plan();
    Map<String, QuantRule.Target> targets = QuantRule.select(plan);
    List<NodeInfo> infos = new ArrayList<>();
    for (String name : chosen) {
      NodeInfo info = new NodeInfo(model, name);
      info.sensitivity = sensitivity.getOrDefault(name, Double.NaN);
      Optional<CrossLayerEqualization.Pair> pair = CrossLayerEqualization.around(plan, name);
      if (pair.isPresent()) {
        info.pair = pair.get();
        info.cleScales = CrossLayerEqualization.scales(plan, info.pair);
        Optional<CalibrationNode> between = model.nodeOfTensor(info.pair.between());
        if (between.isPresent()) {
          info.cleBetween = currentMethod(between.get())
              .observer(between.get().params().type(), between.get().symmetric(), percentileOf(between.get()));
        }
      }
      infos.add(info);
    }

    // 2. statistics over the calibration samples (one float snapshot per batch)
    Map<String, ActStats> acts = new LinkedHashMap<>();
    for (NodeInfo info : infos) {
      for (CalibrationNode a : info.activations) {
        acts.computeIfAbsent(a.tensor(), t -> new ActStats(a));
      }
    }
    Workers.Sweep statsPlan = Workers.Sweep.of(model.session(), data, n, "diagnose");
    List<BatchPlan.Batch> statsBatches = statsPlan.plan().inOrder();
    long batches = statsBatches.size();
    long statsSteps = batches * (infos.size() + 1);
    List<String> outs = infos.stream().map(i -> i.output).distinct().toList();
    // the snapshot keeps what the re-runs below read and the tensors observed, nothing else
    Set<String> statsChanged = new LinkedHashSet<>();
    model.enabled().forEach(x -> statsChanged.add(model.node(x).tensor()));
    Set<String> statsKeep = new LinkedHashSet<>(outs);
    statsKeep.addAll(acts.keySet());
    for (NodeInfo info : infos) {
      info.cals.forEach(x -> statsChanged.add(x.tensor()));
      if (info.cleBetween != null) {
        statsKeep.add(info.pair.between());
      }
    }
    for (int b = 0; b < statsBatches.size(); b++) {
      BatchPlan.Batch batch_ = statsBatches.get(b);
      int c = batch_.size();
      try (Snapshot base = model.session().snapshot(data.batch(batch_.samples()), statsChanged, statsKeep)) {
      // observers see one sample at a time, in sample order, as calibration feeds them: what
      // they accumulate (histogram ranges grow with what they have seen) does not depend on
      // the batching
      for (ActStats a : acts.values()) {
        for (INDArray part : dev.qdebug.quant.Calibrator.perSample(base.get(a.cal.tensor()), c)) {
          a.observe(part);
        }
      }
      Map<String, INDArray> full = model.rerun(base, model.enabled(), RunOptions.outputs(outs));
      long before = (long) b * (infos.size() + 1);
      // the nodes on both cores for a small model: each task touches its own node's statistics,
      // and sees the batch's samples in order, as a single thread would
      statsPlan.run(
          infos.size(),
          t -> {
            NodeInfo info = infos.get(t);
            INDArray yf = base.get(info.output);
            Map<String, INDArray> local =
                model.rerun(base, info.calNames(), RunOptions.outputs(info.output));
            INDArray yq = local.get(info.output);
            if (yf.dataType() == DataType.FLOAT && yf.rank() >= 2) {
              if (info.shift == null) {
                info.shift =
                    new BiasCorrection.Shift(BiasCorrection.channelAxis(info.node, yf.rank()));
              }
              info.shift.add(yq, yf);
            }
            float[][] f = PartialModels.perSample(yf.castTo(DataType.FLOAT), c);
            float[][] q = PartialModels.perSample(yq.castTo(DataType.FLOAT), c);
            float[][] a = PartialModels.perSample(full.get(info.output).castTo(DataType.FLOAT), c);
            for (int s = 0; s < c; s++) {
              info.localSum += Metric.COSINE_SIMILARITY.compute(f[s], q[s]);
              info.accSum += Metric.COSINE_SIMILARITY.compute(f[s], a[s]);
              info.samples++;
            }
            if (info.cleBetween != null) {
              INDArray between = base.get(info.pair.between());
              int axis =
                  BiasCorrection.channelAxis(plan.model().node(info.pair.first()), between.rank());
              float[] inv = new float[info.cleScales.length];
              for (int i = 0; i < inv.length; i++) {
                inv[i] = 1f / info.cleScales[i];
              }
              INDArray scaled = CrossLayerEqualization.scale(between, axis, inv);
              for (INDArray part : dev.qdebug.quant.Calibrator.perSample(scaled, c)) {
                info.cleBetween.observe(part);
              }
            }
          },
          finished -> progress.update("diagnose: statistics", before + finished, statsSteps));
      progress.update("diagnose: statistics", before + infos.size() + 1, statsSteps);
      } // the batch's tensors freed now, not when the garbage collector runs
    }

    // 3. causes
    for (NodeInfo info : infos) {
      diagnose(model, plan, targets, info, acts, ranking, sensitivity);
    }

    // 4. fixes, tried on each node alone
    for (NodeInfo info : infos) {
      info.fixes.addAll(fixes(model, plan, targets, info, acts));
    }
    FixTrials.Shared shared = new FixTrials.Shared();
    List<FixTrials.Trial> runs = new ArrayList<>();
    Map<Set<String>, Integer> baselineOf = new LinkedHashMap<>();
    for (NodeInfo info : infos) {
      for (Fix f : info.fixes) {
        baselineOf.computeIfAbsent(
            f.scope(),
            s -> {
              runs.add(new FixTrials.Trial(new FixTrials.Variant(), s));
              return runs.size() - 1;
            });
      }
    }
    int firstFix = runs.size();
    for (NodeInfo info : infos) {
      for (Fix f : info.fixes) {
        runs.add(new FixTrials.Trial(f.variant(), f.scope()));
      }
    }
    long trialSteps = batches * runs.size();
    long[] t = {0};
    double[] cos =
        FixTrials.outputCosines(
            model, data, n, runs, shared, () -> progress.update("diagnose: fix trials", ++t[0], trialSteps));
    // with labeled data, top-1 of the same trials on the first trialEvalNum labeled samples, in
    // the same streamed way: the baselines, the float reference and every fix that raised the
    // output cosine (the candidates of the combination below; a fix that lowers the output of its
    // node alone is not tried further, and measuring it on labeled data would cost as much again)
    double[] trialTop1 = new double[runs.size()];
    Arrays.fill(trialTop1, Double.NaN);
    if (labeled != null) {
      int evalN = o.evalNum() > 0 ? o.evalNum() : labeled.size();
      int trialN = o.trialEvalNum() > 0 ? Math.min(o.trialEvalNum(), evalN) : evalN;
      List<Integer> which = new ArrayList<>();
      for (int i = 0; i < firstFix; i++) {
        which.add(i);
      }
      int j = firstFix;
      for (NodeInfo info : infos) {
        for (Fix f : info.fixes) {
          if (f.name().equals(FLOAT) || cos[j] > cos[baselineOf.get(f.scope())] + 1e-7) {
            which.add(j);
          }
          j++;
        }
      }
      List<FixTrials.Trial> sub = which.stream().map(runs::get).toList();
      long labeledSteps =
          (long) BatchPlan.of(model.session(), labeled, trialN, BatchPlan.SWEEP, "diagnose").batches().size()
              * sub.size();
      long[] u = {0};
      FixTrials.Scores sc =
          FixTrials.measure(
              model, labeled, trialN, sub, labeled.labels(), shared, null,
              () -> progress.update("diagnose: fix trials, top-1", ++u[0], labeledSteps));
      for (int i = 0; i < which.size(); i++) {
        trialTop1[which.get(i)] = sc.top1(i);
      }
    }
    List<Trial> trials = new ArrayList<>();
    Map<Fix, Trial> trialOf = new LinkedHashMap<>();
    int k = firstFix;
    for (NodeInfo info : infos) {
      for (Fix f : info.fixes) {
        int b = baselineOf.get(f.scope());
        Trial tr = new Trial(info.name, f.name(), cos[b], cos[k], trialTop1[b], trialTop1[k]);
        k++;
        trials.add(tr);
        trialOf.put(f, tr);
      }
    }

    // 5. the fixed model: greedy combination on the full calibrated model
    SampleSet lab = labeled;
    FixTrials.Variant none = new FixTrials.Variant();
    Evaluator ev = new Evaluator(model, data, n, lab, o.evalNum(), shared, progress);
    double floatTop1 =
        lab == null ? Double.NaN : o.floatAccuracy() != null ? o.floatAccuracy() : ev.top1Float();
    double threshold = metric == TargetMetric.TOP1 ? o.target() * floatTop1 : o.target();
    double calCos = ev.cosine(none);
    double calTop1 = lab == null ? Double.NaN : ev.top1(none);
    FixTrials.Variant state = none;
    double stateCos = calCos;
    double stateTop1 = calTop1;
    List<Kept> kept = new ArrayList<>();
    Map<String, String> touchedBy = new LinkedHashMap<>(); // tensor -> the node whose fix changed it
    StepTable steps = new StepTable();
    steps.add("calibrated", "", stateCos, stateTop1, true, meets(metric, stateCos, stateTop1, threshold));
    boolean reached = meets(metric, stateCos, stateTop1, threshold);
    Set<String> seqTensors = new LinkedHashSet<>();
    // round 1: fixes that cost nothing at run time; round 2: int16 for nodes still unfixed
    // (round 3: int16 again for the nodes whose int16 trial the full model rejected in round 2:
    // the state has changed since)
    for (int round = 1; round <= 3; round++) {
      boolean int16 = round >= 2;
      if (round == 2 && !reached) {
        // between the free per-node fixes and int16: sequential bias correction of every
        // quantized matrix node (free at run time too), measured with the per-node fixes kept so
        // far in place; it replaces the per-node bias corrections (each measured with the rest in
        // float)
        FixTrials.Variant without = state;
        for (Kept x : kept) {
          if (x.fix().equals(BIAS_CORRECTION)) {
            without = without.withoutShift(model.floatModel().node(x.node()).outputs().get(0));
          }
        }
        FixTrials.Variant seq = sequentialBiasCorrection(model, data, n, without, shared, progress);
        if (!seq.isEmpty()) {
          FixTrials.Variant next = without.plus(seq);
          double c = ev.cosine(next);
          double top1 = lab != null ? ev.top1(next) : Double.NaN;
          boolean better = improves(metric, c, top1, stateCos, stateTop1);
          if (better) {
            state = next;
            stateCos = c;
            stateTop1 = top1;
            kept.removeIf(x -> x.fix().equals(BIAS_CORRECTION));
            seqTensors.addAll(seq.shifts.keySet());
            seqTensors.forEach(x -> touchedBy.put(x, ALL_MATRIX_NODES));
            kept.add(new Kept(ALL_MATRIX_NODES, SEQUENTIAL_BIAS_CORRECTION));
            reached = meets(metric, stateCos, stateTop1, threshold);
          }
          steps.add(ALL_MATRIX_NODES, SEQUENTIAL_BIAS_CORRECTION, c, top1, better, better && reached);
        }
      }
      List<NodeInfo> byGain = new ArrayList<>(infos);
      byGain.sort(
          Comparator.comparing(
              (NodeInfo i) -> bestTrial(i, trialOf, int16),
              Comparator.nullsLast(Trial.BY_GAIN)));
      for (NodeInfo info : byGain) {
        if (reached) {
          break;
        }
        if (!int16 && kept.stream().anyMatch(x -> x.node().equals(info.name))) {
          continue;
        }
        if (int16 && kept.stream().anyMatch(x -> x.node().equals(info.name) && isInt16(x.fix()))) {
          continue;
        }
        List<Fix> cands = new ArrayList<>();
        for (Fix f : info.fixes) {
          if (!f.name().equals(FLOAT) && isInt16(f.name()) == int16 && candidate(trialOf.get(f))) {
            cands.add(f);
          }
        }
        cands.sort(Comparator.comparing((Fix f) -> trialOf.get(f), Trial.BY_GAIN));
        int tried = 0;
        for (Fix f : cands) {
          if (tried == 2) {
            break;
          }
          Set<String> ft = f.touched(model);
          if (ft.stream().anyMatch(x -> touchedBy.containsKey(x) && !touchedBy.get(x).equals(info.name))) {
            continue;
          }
          tried++;
          // an int16 fix replaces the node's own bias correction (measured at the lower precision)
          boolean dropShift = int16 && state.shifts.containsKey(info.output);
          FixTrials.Variant next = (dropShift ? state.withoutShift(info.output) : state).plus(f.variant());
          double c = ev.cosine(next);
          boolean better = c > stateCos + 1e-7;
          double top1 = Double.NaN;
          if (better) {
            state = next;
            stateCos = c;
            ft.forEach(x -> touchedBy.put(x, info.name));
            if (dropShift) {
              kept.removeIf(x -> x.node().equals(info.name) && x.fix().equals(BIAS_CORRECTION));
            }
            kept.add(new Kept(info.name, f.name()));
            if (lab != null) {
              top1 = ev.top1(state);
              stateTop1 = top1;
            }
            reached = meets(metric, stateCos, stateTop1, threshold);
          }
          steps.add(info.name, f.name(), c, top1, better, better && reached);
          if (better) {
            break;
          }
        }
      }
    }
    // pass 1: the sequential correction re-measured on what the rounds changed (int16 weights,
    // other ranges: the shifts they leave differ from the calibrated model's). Pass 2: fall back
    // to int16 while the target is not met (on an accelerator int16 costs less than float): node
    // by node in sensitivity order, the victims of upstream error last, each node's int16 fixes
    // that helped it alone and are not in yet, kept whatever the step shows (in a collapsed model
    // one node raised alone does not move the output, so the rounds above reject it: the gain
    // shows only when several are raised together, as in the float fallback below); then the
    // sequential correction re-measured once more.
    List<NodeInfo> int16Order = new ArrayList<>();
    for (boolean victim : new boolean[] {false, true}) {
      for (NodeInfo info : infos) {
        if (isVictim(info) == victim) {
          int16Order.add(info);
        }
      }
    }
    List<Fallback> fallbacks = new ArrayList<>(); // each fallback step, with the state before it
    for (int pass = 1; pass <= 2 && !reached; pass++) {
      boolean raised = false;
      for (NodeInfo info : pass == 2 ? int16Order : List.<NodeInfo>of()) {
        if (reached) {
          break;
        }
        List<Fix> use = new ArrayList<>();
        for (Fix f : info.fixes) {
          if (isInt16(f.name())
              && candidate(trialOf.get(f))
              && kept.stream().noneMatch(x -> x.node().equals(info.name) && List.of(x.fix().split(" \\+ ")).contains(f.name()))) {
            use.add(f);
          }
        }
        if (use.isEmpty()) {
          continue; // no int16 fix helped this node alone (float is its fallback), or all are in
        }
        FixTrials.Variant next = state.withoutShift(info.output);
        for (Fix f : use) {
          next = next.plus(f.variant());
        }
        String name = use.stream().map(Fix::name).collect(Collectors.joining(" + "));
        fallbacks.add(new Fallback(info, name, state));
        state = next;
        stateCos = ev.cosine(state);
        stateTop1 = lab != null ? ev.top1(state) : Double.NaN;
        kept.removeIf(x -> x.node().equals(info.name) && x.fix().equals(BIAS_CORRECTION));
        kept.add(new Kept(info.name, name));
        raised = true;
        reached = meets(metric, stateCos, stateTop1, threshold);
        steps.add(info.name, name + " (fallback)", stateCos, stateTop1, true, reached);
      }
      if (reached || seqTensors.isEmpty() || (pass == 2 && !raised)) {
        continue;
      }
      FixTrials.Variant without = state;
      for (String x : seqTensors) {
        without = without.withoutShift(x);
      }
      FixTrials.Variant seq = sequentialBiasCorrection(model, data, n, without, shared, progress);
      FixTrials.Variant next = without.plus(seq);
      double c = ev.cosine(next);
      double top1 = lab != null ? ev.top1(next) : Double.NaN;
      boolean better = improves(metric, c, top1, stateCos, stateTop1);
      if (better) {
        state = next;
        stateCos = c;
        stateTop1 = top1;
        seqTensors.clear();
        seqTensors.addAll(seq.shifts.keySet());
        reached = meets(metric, stateCos, stateTop1, threshold);
      }
      steps.add(ALL_MATRIX_NODES, SEQUENTIAL_BIAS_CORRECTION + " (re-measured)", c, top1, better, better && reached);
    }
    // then to float: first the nodes no int16 fix helped, then those already raised to int16, each
    // group in sensitivity order
    List<NodeInfo> fallback = new ArrayList<>();
    for (boolean raised : new boolean[] {false, true}) {
      for (NodeInfo info : infos) {
        boolean has = kept.stream().anyMatch(x -> x.node().equals(info.name) && isInt16(x.fix()));
        if (has == raised) {
          fallback.add(info);
        }
      }
    }
    for (NodeInfo info : fallback) {
      if (reached) {
        break;
      }
      Fix f = info.fixes.stream().filter(x -> x.name().equals(FLOAT)).findFirst().orElseThrow();
      fallbacks.add(new Fallback(info, FLOAT, state));
      state = state.withoutShift(info.output).plus(f.variant());
      stateCos = ev.cosine(state);
      stateTop1 = lab != null ? ev.top1(state) : Double.NaN;
      kept.add(new Kept(info.name, FLOAT));
      reached = meets(metric, stateCos, stateTop1, threshold);
      steps.add(info.name, FLOAT, stateCos, stateTop1, true, reached);
    }
    // the fallbacks pruned once the target is met: each undone in turn, last first (the least
    // sensitive), where the target still holds without it (a node back from float to what it had
    // before, int16 back to int8), so no node keeps more precision than the target needs
    if (reached) {
      for (int i = fallbacks.size() - 1; i >= 0; i--) {
        Fallback fb = fallbacks.get(i);
        FixTrials.Variant back = state.restore(fb.before(), fb.info().calNames(), fb.info().output);
        double c = ev.cosine(back);
        double top1 = lab != null ? ev.top1(back) : Double.NaN;
        boolean still = meets(metric, c, top1, threshold);
        steps.add(fb.info().name, "undo " + fb.fix() + " (pruning)", c, top1, still, still);
        if (still) {
          state = back;
          stateCos = c;
          stateTop1 = top1;
          for (int j = kept.size() - 1; j >= 0; j--) {
            if (kept.get(j).node().equals(fb.info().name) && kept.get(j).fix().equals(fb.fix())) {
              kept.remove(j);
              break;
            }
          }
        }
      }
    }

    // 6. the fixed model as written, measured as written
    OnnxModel fixedFloat = state.floatModel(model.floatModel());
    List<CalibrationNode> fixedNodes = state.nodes(model);
    Set<String> fixedEnabled = state.enabled(model.enabled());
    double fixedCos;
    double fixedTop1 = Double.NaN;
    try (CalibratedModel fixed = new CalibratedModel(fixedFloat, fixedNodes, fixedEnabled)) {
      fixedCos = ev.cosine(fixed, fixedEnabled); // against the original float model
      if (lab != null) {
        fixedTop1 = Accuracy.top1(fixed, lab, fixedEnabled, o.evalNum(), Progress.NONE);
      }
    }
    reached = meets(metric, fixedCos, fixedTop1, threshold);
    Set<String> changedNodes = new LinkedHashSet<>();
    kept.forEach(x -> changedNodes.add(x.node()));
    changedNodes.remove(ALL_MATRIX_NODES);
    int kTop = changedNodes.size();
    Set<String> topk =
        PartialModels.calibrationsOf(model, ranking.subList(0, Math.min(kTop, ranking.size())), "--nodes");
    Set<String> topkEnabled = PartialModels.blacklist(model, topk);
    double topkCos = PartialModels.outputCosines(model, data, n, List.of(topkEnabled), Progress.NONE, "")[0];
    double topkTop1 =
        lab == null ? Double.NaN : Accuracy.top1(model, lab, topkEnabled, o.evalNum(), Progress.NONE);
    int inFloat = 0;
    int inInt16 = 0;
    Map<String, String> last = new LinkedHashMap<>(); // each node's last kept fix
    kept.forEach(x -> last.put(x.node(), x.fix()));
    for (String fix : last.values()) {
      if (fix.equals(FLOAT)) {
        inFloat++;
      } else if (isInt16(fix)) {
        inInt16++;
      }
    }
    Map<String, double[]> metrics = new LinkedHashMap<>();
    metrics.put("float", new double[] {1.0, floatTop1});
    metrics.put("calibrated", new double[] {calCos, calTop1});
    metrics.put("fixed", new double[] {fixedCos, fixedTop1});
    metrics.put("top-" + kTop + " in float", new double[] {topkCos, topkTop1});

    Map<String, List<Cause>> causes = new LinkedHashMap<>();
    infos.forEach(i -> causes.put(i.name, List.copyOf(i.causes)));
    SampleCulprits.Result culprits = culprits(model, data, lab, o, ev, infos, shared);
    return new Result(
        chosen,
        causes,
        trials,
        kept,
        reached,
        threshold,
        metrics,
        inFloat,
        inInt16,
        causeTable(infos, acts),
        trialTable(trials),
        steps.table(lab != null),
        summary(infos, trials, kept),
        accuracyTable(metrics, floatTop1, kTop, inFloat, inInt16, lab != null),
        figure(infos, trials),
        culprits.table(),
        culprits.gallery(),
        fixedFloat,
        fixedNodes,
        fixedEnabled,
        o);
  }

  /** The samples to explain and their culprits (see {@link SampleCulprits}). */
  private static SampleCulprits.Result culprits(
      CalibratedModel model, SampleSet data, SampleSet labeled, Options o, Evaluator ev,
      List<NodeInfo> infos, FixTrials.Shared shared) {
    List<Integer> chosen = new ArrayList<>();
    List<String> why = new ArrayList<>();
    SampleSet where = labeled != null ? labeled : data;
    if (o.samples() > 0 && labeled != null) {
      FixTrials.Variant none = new FixTrials.Variant();
      int[] f =
          ev.floatPredictions != null
              ? ev.floatPredictions
              : FixTrials.predictions(model, none, Set.of(), labeled, o.evalNum(), shared);
      int[] q =
          ev.calibratedPredictions != null
              ? ev.calibratedPredictions
              : FixTrials.predictions(model, none, model.enabled(), labeled, o.evalNum(), shared);
      long[] labels = labeled.labels();
      for (int i = 0; i < f.length && chosen.size() < o.samples(); i++) {
        if (f[i] == labels[i] && q[i] != labels[i]) {
          chosen.add(i);
          why.add("label " + labels[i] + ", float " + f[i] + ", quantized " + q[i]);
        }
      }
    } else if (o.samples() > 0) {
      double[] cos = ev.calibratedPerSample;
      Integer[] order = new Integer[cos.length];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      Arrays.sort(order, Comparator.comparingDouble(i -> cos[i]));
      for (int i = 0; i < Math.min(o.samples(), order.length); i++) {
        chosen.add(order[i]);
        why.add(String.format(Locale.ROOT, "output cosine %.4f quantized", cos[order[i]]));
      }
    }
    Map<String, Set<String>> nodes = new LinkedHashMap<>();
    infos.forEach(i -> nodes.put(i.name, i.calNames()));
    return SampleCulprits.run(model, where, chosen, why, nodes);
  }

  private static boolean meets(TargetMetric m, double cos, double top1, double threshold) {
    return m == TargetMetric.TOP1 ? top1 >= threshold : cos >= threshold;
  }

  /**
   * Whether a whole-model step improves: by top-1 first when top-1 is the target (then output
   * cosine on a tie), else by output cosine.
   */
  private static boolean improves(TargetMetric m, double cos, double top1, double stateCos, double stateTop1) {
    if (m == TargetMetric.TOP1 && !Double.isNaN(top1)) {
      return top1 > stateTop1 || (top1 == stateTop1 && cos > stateCos + 1e-7);
    }
    return cos > stateCos + 1e-7;
  }

  private static boolean isInt16(String fix) {
    return fix.startsWith("int16");
  }

  /** Whether the node's main cause is error carried in from upstream. */
  private static boolean isVictim(NodeInfo info) {
    return !info.causes.isEmpty() && info.causes.get(0).name().equals(AMPLIFIED);
  }

  /**
   * A fix worth trying on the full model: its node alone gains output cosine (its top-1 gain,
   * where measured, orders the candidates: {@link Trial#BY_GAIN}).
   */
  static boolean candidate(Trial t) {
    return t.gain() > 1e-7;
  }

  /** The best candidate trial of a node (null when none), by {@link Trial#BY_GAIN}. */
  private static Trial bestTrial(NodeInfo info, Map<Fix, Trial> trialOf, boolean int16) {
    Trial best = null;
    for (Fix f : info.fixes) {
      Trial t = trialOf.get(f);
      if (!f.name().equals(FLOAT) && isInt16(f.name()) == int16 && candidate(t)
          && (best == null || Trial.BY_GAIN.compare(t, best) < 0)) {
        best = t;
      }
    }
    return best;
  }

  /**
   * Full-model measurements of variants (output cosine on the calibration samples, top-1), each
   * streamed batch by batch ({@link FixTrials#measure}, {@link FixTrials#predictions}): nothing
   * of a batch outlives it, so memory does not grow with the samples or the number of steps.
   */
  private static final class Evaluator {
    final CalibratedModel model;
    final SampleSet data;
    final int n;
    final SampleSet labeled;
    final int evalNum;
    final FixTrials.Shared shared;
    final Progress progress;
    final List<String> outputs;
    double[] calibratedPerSample; // the calibrated model's output cosine per sample
    int[] calibratedPredictions;
    int[] floatPredictions;
    int runs;

    Evaluator(CalibratedModel model, SampleSet data, int n, SampleSet labeled, int evalNum,
        FixTrials.Shared shared, Progress progress) {
      this.model = model;
      this.data = data;
      this.n = n;
      this.labeled = labeled;
      this.evalNum = evalNum;
      this.shared = shared;
      this.progress = progress;
      this.outputs = model.floatModel().outputs().stream().map(v -> v.name()).toList();
    }

    double cosine(FixTrials.Variant v) {
      boolean keep = v.isEmpty() && calibratedPerSample == null;
      double[] perSample = keep ? new double[n] : null;
      FixTrials.Scores sc =
          FixTrials.measure(
              model, data, n, List.of(new FixTrials.Trial(v, model.enabled())), null, shared,
              keep ? (trial, sample, cos, pred) -> {
                    if (trial == 0) {
                      perSample[sample] = cos;
                    }
                  }
                  : null,
              () -> {});
      if (keep) {
        calibratedPerSample = perSample;
      }
      progress.update("diagnose: combining fixes", ++runs, runs + 1);
      return sc.cosine[0];
    }

    /** The output cosine of another model (the fixed one as written) with the original float. */
    double cosine(CalibratedModel other, Set<String> enabled) {
      double sum = 0;
      int count = 0;
      for (BatchPlan.Batch batch : BatchPlan.of(model.session(), data, n, BatchPlan.FORWARD, "diagnose").batches()) {
        int c = batch.size();
        Map<String, INDArray> in = data.batch(batch.samples());
        Map<String, INDArray> f = model.run(in, List.of(), RunOptions.outputs(outputs));
        Map<String, INDArray> q = other.run(in, enabled, RunOptions.outputs(outputs));
        for (String o : outputs) {
          float[][] fs = PartialModels.perSample(f.get(o), c);
          float[][] qs = PartialModels.perSample(q.get(o), c);
          for (int s = 0; s < c; s++) {
            double x = Metric.COSINE_SIMILARITY.compute(fs[s], qs[s]);
            if (!Double.isNaN(x)) {
              sum += x;
              count++;
            }
          }
        }
      }
      return count == 0 ? Double.NaN : sum / count;
    }
    double top1(FixTrials.Variant v) {
      int[] p = FixTrials.predictions(model, v, model.enabled(), labeled, evalNum, shared);
      if (v.isEmpty() && calibratedPredictions == null) {
        calibratedPredictions = p;
      }
      progress.update("diagnose: combining fixes", ++runs, runs + 1);
      return accuracy(p);
    }

    double top1Float() {
      floatPredictions =
          FixTrials.predictions(model, new FixTrials.Variant(), Set.of(), labeled, evalNum, shared);
      return accuracy(floatPredictions);
    }

    double accuracy(int[] p) {
      long[] labels = labeled.labels();
      long ok = 0;
      for (int i = 0; i < p.length; i++) {
        ok += p[i] == labels[i] ? 1 : 0;
      }
      return (double) ok / p.length;
    }
  }

  /**
   * Sequential empirical bias correction of every quantized matrix node (Conv, Gemm, MatMul with
   * a quantized constant weight) of {@code state} applied to {@code model}: in graph order, each
   * node's per-channel mean output shift {@code E[y_q - y_f]} is measured on the calibration
   * samples with everything upstream already quantized and already corrected, and its negation
   * added to the node's output (folded into its bias when written). Unlike the bias correction of
   * one node alone (measured with the rest in float), this corrects the shift the node's input
   * carries in from upstream as well. The nodes whose output {@code state} already shifts, or
   * whose calibration nodes it switches off, are left as they are. Memory: per channel sums,
   * one batch at a time; cost: one float pass, then one pass per node up to that node.
   *
   * @return the shifts only (to add to {@code state}), empty when no node qualifies
   */
  static FixTrials.Variant sequentialBiasCorrection(
      CalibratedModel model, SampleSet data, int n, FixTrials.Variant state, FixTrials.Shared shared,
      Progress progress) {
    Plan plan = model.session().plan();
    Set<String> on = state.enabled(model.enabled());
    List<OnnxNode> targets = new ArrayList<>();
    for (OnnxNode x : model.floatModel().nodes()) {
      if (!QuantRule.MATRIX_OPS.contains(x.opType()) || x.outputs().size() != 1
          || state.shifts.containsKey(x.outputs().get(0))) {
        continue;
      }
      boolean quantizedWeight = false;
      for (CalibrationNode c : model.calibrationsOf(x.name())) {
        if (c.kind() == TensorKind.WEIGHT && on.contains(c.name()) && plan.isConstant(c.tensor())) {
          quantizedWeight = true;
        }
      }
      if (quantizedWeight) {
        targets.add(x);
      }
    }
    FixTrials.Variant out = new FixTrials.Variant();
    if (targets.isEmpty()) {
      return out;
    }
    List<BatchPlan.Batch> batches =
        BatchPlan.of(model.session(), data, n, BatchPlan.FORWARD, "diagnose").batches();
    List<String> graphOutputs = model.floatModel().outputs().stream().map(v -> v.name()).toList();
    // float: the per-channel sums of every target's output, in one pass
    Map<String, double[]> floatSum = new LinkedHashMap<>();
    Map<String, long[]> floatCount = new LinkedHashMap<>();
    Map<String, OnnxNode> byTensor = new LinkedHashMap<>();
    targets.forEach(x -> byTensor.put(x.outputs().get(0), x));
    for (BatchPlan.Batch b : batches) {
      model.session().run(
          data.batch(b.samples()),
          RunOptions.outputs(graphOutputs)
              .hook(
                  (tensor, value) -> {
                    OnnxNode x = byTensor.get(tensor);
                    if (x != null && value.dataType() == DataType.FLOAT && value.rank() >= 2) {
                      channelSums(value, BiasCorrection.channelAxis(x, value.rank()),
                          floatSum.computeIfAbsent(tensor, t -> new double[(int) value.size(BiasCorrection.channelAxis(x, value.rank()))]),
                          floatCount.computeIfAbsent(tensor, t -> new long[(int) value.size(BiasCorrection.channelAxis(x, value.rank()))]));
                    }
                    return value;
                  }));
    }
    // quantized, node after node, with the corrections so far
    FixTrials.Variant current = state;
    int done = 0;
    for (OnnxNode x : targets) {
      String tensor = x.outputs().get(0);
      double[] fs = floatSum.get(tensor);
      if (fs == null) {
        continue;
      }
      double[] qs = new double[fs.length];
      long[] qc = new long[fs.length];
      int[] axis = {-1};
      TensorHook fixes = FixTrials.hook(model, current, model.enabled(), shared);
      TensorHook capture =
          (t, value) -> {
            if (t.equals(tensor) && value.dataType() == DataType.FLOAT) {
              axis[0] = BiasCorrection.channelAxis(x, value.rank());
              channelSums(value, axis[0], qs, qc);
            }
            return value;
          };
      for (BatchPlan.Batch b : batches) {
        model.session().run(data.batch(b.samples()), RunOptions.outputs(tensor).hook(capture.andThen(fixes)));
      }
      long[] fc = floatCount.get(tensor);
      float[] delta = new float[fs.length];
      for (int c = 0; c < delta.length; c++) {
        delta[c] = qc[c] == 0 || fc[c] == 0 ? 0f : (float) -(qs[c] / qc[c] - fs[c] / fc[c]);
      }
      FixTrials.Variant one = new FixTrials.Variant();
      one.shifts.put(tensor, new FixTrials.Variant.Shift(x.name(), axis[0], delta));
      out = out.plus(one);
      current = current.plus(one);
      progress.update("diagnose: sequential bias correction", ++done, targets.size());
    }
    return out;
  }

  /** Adds each channel's sum (along {@code axis}) and element count of {@code y}. */
  private static void channelSums(INDArray y, int axis, double[] sum, long[] count) {
    long[] shape = y.shape();
    int ch = (int) shape[axis];
    long inner = dev.qdebug.quant.Channels.inner(shape, axis);
    float[] v = y.dup('c').data().asFloat();
    for (int e = 0; e < v.length; e++) {
      int c = (int) ((e / inner) % ch);
      sum[c] += v[e];
      count[c]++;
    }
  }

  /** The greedy steps, as a table. */
  private static final class StepTable {
    final List<Object[]> rows = new ArrayList<>();

    void add(String node, String fix, double cos, double top1, boolean kept, boolean meets) {
      rows.add(new Object[] {node, fix, cos, top1, kept, meets});
    }

    Table table(boolean accuracy) {
      IntColumn step = IntColumn.create("step");
      StringColumn node = StringColumn.create("node");
      StringColumn fix = StringColumn.create("fix");
      DoubleColumn cos = PartialModels.fixed("output-cosine-similarity", 6);
      DoubleColumn top1 = PartialModels.fixed("top-1", 4);
      StringColumn kept = StringColumn.create("kept");
      StringColumn meets = StringColumn.create("meets-target");
      int i = 0;
      for (Object[] r : rows) {
        step.append(i++);
        node.append((String) r[0]);
        fix.append((String) r[1]);
        cos.append((double) r[2]);
        top1.append((double) r[3]);
        kept.append((boolean) r[4] ? "yes" : "no");
        meets.append((boolean) r[5] ? "yes" : "no");
      }
      Table t = Table.create("diagnose: combining fixes", step, node, fix, cos);
      if (accuracy) {
        t.addColumns(top1);
      }
      return t.addColumns(kept, meets);
    }
  }

  // ---------------------------------------------------------------- causes

  private static void diagnose(
      CalibratedModel model,
      Plan plan,
      Map<String, QuantRule.Target> targets,
      NodeInfo info,
      Map<String, ActStats> acts,
      List<String> ranking,
      Map<String, Double> sensitivity) {
    List<Cause> out = info.causes;
    if (info.weight != null && plan.isConstant(info.weight.tensor())) {
      INDArray w = plan.constant(info.weight.tensor());
      int axis = weightAxis(targets, info);
      if (axis >= 0 && axis < w.rank()) {
        float[] ranges = CrossLayerEqualization.absMax(w, axis);
        float[] sorted = ranges.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        double ratio = median > 0 ? sorted[sorted.length - 1] / median : Double.POSITIVE_INFINITY;
        double zeros = zeroShare(w, info.weight.params());
        String e =
            String.format(
                Locale.ROOT,
                "largest/median channel range %.2f over %d channels (%s %s); %.1f%% of weights round to 0",
                ratio,
                ranges.length,
                info.weight.params().type().label(),
                info.weight.params().perChannel() ? "per-channel" : "per-tensor",
                100 * zeros);
        if (!info.weight.params().perChannel() && ranges.length > 1 && ratio >= 3) {
          out.add(new Cause(STRETCHED, ratio / 3, e));
        }
        double outlier = outlierRatio(w, axis);
        if (outlier >= 8) {
          out.add(
              new Cause(
                  WEIGHT_OUTLIERS,
                  outlier / 8,
                  String.format(Locale.ROOT, "a channel's largest |w| is %.1f times its rms", outlier)));
        }
      }
    }
    for (CalibrationNode a : info.activations) {
      ActStats s = acts.get(a.tensor());
      if (s == null || s.count == 0) {
        continue;
      }
      double clipShare = (double) s.clipped / s.count;
      double err = s.clipSq + s.roundSq;
      double clipErr = err > 0 ? s.clipSq / err : 0;
      double p = s.p9999.range().thresholds()[0];
      double tail = p > 0 ? s.absMax() / p : 1;
      String where = info.activations.size() > 1 ? " (" + a.tensor() + ")" : "";
      if (clipShare > 0 && clipErr >= 0.5) {
        out.add(
            new Cause(
                CLIPPING + where,
                2 * clipErr,
                String.format(
                    Locale.ROOT,
                    "%.3f%% of values beyond the range; clipping %.0f%% of the activation's error, rounding %.0f%%",
                    100 * clipShare, 100 * clipErr, 100 * (1 - clipErr))));
      }
      if (tail >= 3 && clipErr < 0.5) {
        out.add(
            new Cause(
                LONG_TAIL + where,
                tail / 3,
                String.format(
                    Locale.ROOT,
                    "max |x| %.4g is %.1f times the 99.99th percentile %.4g; rounding %.0f%% of the error",
                    s.absMax(), tail, p, 100 * (1 - clipErr))));
      }
      if (a.symmetric() && s.max > 0 && s.min >= -0.1 * s.max) {
        out.add(
            new Cause(
                ONE_SIDED + where,
                0.9,
                String.format(
                    Locale.ROOT,
                    "values in [%.4g, %.4g]: %.0f%% of the %s grid unused",
                    s.min, s.max, 100 * (0.5 - Math.max(0, -s.min) / (2 * s.absMax())),
                    a.params().type().label())));
      }
    }
    if (info.shift != null) {
      double share = info.shift.share();
      if (share >= 0.3) {
        float[] m = info.shift.mean();
        double worst = 0;
        for (float x : m) {
          worst = Math.max(worst, Math.abs(x));
        }
        out.add(
            new Cause(
                BIAS,
                2.5 * share,
                String.format(
                    Locale.ROOT,
                    "the per-channel mean shift explains %.0f%% of the output error (largest |shift| %.4g)",
                    100 * share, worst)));
      }
    }
    if (info.samples > 0) {
      double local = 1 - info.localSum / info.samples;
      double acc = 1 - info.accSum / info.samples;
      if (acc > 1e-4 && acc >= 5 * Math.max(local, 1e-12)) {
        String up = upstream(model, info.name, ranking, sensitivity);
        out.add(
            new Cause(
                AMPLIFIED,
                acc / Math.max(local, 1e-12) / 5,
                String.format(
                    Locale.ROOT,
                    "output cosine %.6f in the calibrated model vs %.6f quantized alone%s",
                    1 - acc, 1 - local, up == null ? "" : "; look upstream at " + up)));
      }
    }
    out.sort(Comparator.comparingDouble((Cause c) -> -c.severity()));
  }

  private static int weightAxis(Map<String, QuantRule.Target> targets, NodeInfo info) {
    if (info.weight.params().perChannel()) {
      return info.weight.params().axis();
    }
    QuantRule.Target t = targets.get(info.weight.tensor());
    if (t != null && t.axis() >= 0) {
      return t.axis();
    }
    return CrossLayerEqualization.outAxis(info.node, info.node.opType().equals("Conv") ? 4 : 2);
  }

  /** The share of non-zero weights that quantize to 0. */
  private static double zeroShare(INDArray w, QParams p) {
    float[] v = w.dup('c').data().asFloat();
    float[] q = FakeQuant.apply(w, p).dup('c').data().asFloat();
    long nz = 0;
    long zero = 0;
    for (int i = 0; i < v.length; i++) {
      if (v[i] != 0) {
        nz++;
        if (q[i] == 0) {
          zero++;
        }
      }
    }
    return nz == 0 ? 0 : (double) zero / nz;
  }

  /** Over channels of at least 16 weights, the largest {@code max|w| / rms(w)}. */
  private static double outlierRatio(INDArray w, int axis) {
    long[] shape = w.shape();
    int ch = (int) shape[axis];
    long inner = dev.qdebug.quant.Channels.inner(shape, axis);
    float[] v = w.dup('c').data().asFloat();
    double[] sq = new double[ch];
    double[] mx = new double[ch];
    long[] cnt = new long[ch];
    for (int e = 0; e < v.length; e++) {
      int c = (int) ((e / inner) % ch);
      sq[c] += (double) v[e] * v[e];
      mx[c] = Math.max(mx[c], Math.abs(v[e]));
      cnt[c]++;
    }
    double worst = 0;
    for (int c = 0; c < ch; c++) {
      if (cnt[c] >= 16 && sq[c] > 0) {
        worst = Math.max(worst, mx[c] / Math.sqrt(sq[c] / cnt[c]));
      }
    }
    return worst;
  }

  /** The most sensitive node upstream of {@code node} in the ranking (null when none). */
  private static String upstream(
      CalibratedModel model, String node, List<String> ranking, Map<String, Double> sensitivity) {
    Set<String> ancestors = new LinkedHashSet<>();
    Map<String, OnnxNode> producer = new LinkedHashMap<>();
    for (OnnxNode x : model.floatModel().nodes()) {
      x.outputs().forEach(o -> producer.put(o, x));
    }
    List<String> todo = new ArrayList<>(model.floatModel().node(node).inputs());
    while (!todo.isEmpty()) {
      OnnxNode p = producer.get(todo.remove(todo.size() - 1));
      if (p != null && ancestors.add(p.name())) {
        todo.addAll(p.inputs());
      }
    }
    for (String r : ranking) {
      if (ancestors.contains(r)) {
        return r;
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- fixes

  private static List<Fix> fixes(
      CalibratedModel model,
      Plan plan,
      Map<String, QuantRule.Target> targets,
      NodeInfo info,
      Map<String, ActStats> acts) {
    List<Fix> out = new ArrayList<>();
    Set<String> scope = info.calNames();
    CalibrationNode w = info.weight;
    if (w != null && plan.isConstant(w.tensor())) {
      int axis = weightAxis(targets, info);
      if (!w.params().perChannel() && axis >= 0) {
        MaxObserver obs = new MaxObserver(axis);
        obs.observe(plan.constant(w.tensor()));
        QParams p = obs.range().toParams(w.params().type(), true);
        out.add(replace(PER_CHANNEL, scope, new CalibrationNode(w.name(), w.tensor(), w.kind(), p, true, "max")));
      }
      QParams clipped = mseWeightRange(plan.constant(w.tensor()), w.params());
      if (clipped != null) {
        out.add(replace(MSE_WEIGHTS, scope, new CalibrationNode(w.name(), w.tensor(), w.kind(), clipped, true, "mse")));
      }
      if (w.params().type().bits() < 16) {
        out.add(replace(INT16_WEIGHTS, scope, w.withType(QType.INT16)));
      }
    }
    for (CalibrationNode a : info.activations) {
      ActStats s = acts.get(a.tensor());
      String where = info.activations.size() > 1 ? " on " + a.tensor() : "";
      if (s != null && s.count > 0) {
        for (Map.Entry<String, Observer> e : s.ranges.entrySet()) {
          Range r = e.getValue().range();
          QParams p = r.toParams(a.params().type(), a.symmetric());
          String method = e.getKey().replace(" range", "");
          out.add(
              replace(
                  e.getKey() + where,
                  scope,
                  new CalibrationNode(a.name(), a.tensor(), a.kind(), p, a.symmetric(), method)));
        }
        if (s.asymmetric != null) {
          QParams p = s.asymmetric.range().toParams(a.params().type(), false);
          out.add(
              replace(
                  ASYMMETRIC + where,
                  scope,
                  new CalibrationNode(a.name(), a.tensor(), a.kind(), p, false, a.method())));
        }
      }
      if (a.params().type().bits() < 16) {
        out.add(replace(INT16_ACTIVATION + where, scope, a.withType(QType.INT16)));
      }
    }
    if (info.shift != null
        && QuantRule.MATRIX_OPS.contains(info.node.opType())
        && info.node.outputs().size() == 1) {
      FixTrials.Variant v = new FixTrials.Variant();
      v.shifts.put(
          info.output,
          new FixTrials.Variant.Shift(
              info.name, info.shift.axis(), BiasCorrection.correction(info.shift.mean())));
      out.add(new Fix(BIAS_CORRECTION, v, scope));
    }
    if (info.pair != null) {
      CrossLayerEqualization.Pair pair = info.pair;
      String other = pair.first().equals(info.name) ? pair.second() : pair.first();
      Map<String, INDArray> constants =
          Workspaces.outside(() -> CrossLayerEqualization.apply(plan, pair, info.cleScales));
      FixTrials.Variant v = new FixTrials.Variant();
      v.constants.putAll(constants);
      boolean ok = true;
      for (String t : List.of(pair.w1(), pair.w2())) {
        Optional<CalibrationNode> c = model.nodeOfTensor(t);
        if (c.isPresent()) {
          QParams old = c.get().params();
          MaxObserver obs = new MaxObserver(old.perChannel() ? old.axis() : -1);
          obs.observe(constants.get(t));
          v.replace.put(
              c.get().name(),
              new CalibrationNode(c.get().name(), t, TensorKind.WEIGHT, obs.range().toParams(old.type(), true), true, c.get().method()));
        }
      }
      Optional<CalibrationNode> between = model.nodeOfTensor(pair.between());
      if (between.isPresent()) {
        if (info.cleBetween == null) {
          ok = false;
        } else {
          CalibrationNode b = between.get();
          QParams p = info.cleBetween.range().toParams(b.params().type(), b.symmetric());
          v.replace.put(b.name(), new CalibrationNode(b.name(), b.tensor(), b.kind(), p, b.symmetric(), b.method()));
        }
      }
      if (ok) {
        Set<String> both = new LinkedHashSet<>(scope);
        model.calibrationsOf(other).forEach(c -> both.add(c.name()));
        out.add(new Fix(EQUALIZE + " with " + other, v, both));
      }
    }
    FixTrials.Variant f = new FixTrials.Variant();
    f.disable.addAll(scope);
    out.add(new Fix(FLOAT, f, scope));
    return out;
  }

  /**
   * Per channel (or for the tensor, as {@code p} is), the symmetric range {@code alpha * max|w|}
   * (alpha from 1 down to 0.2 in steps of 0.05) whose fake quantization has the smallest squared
   * error: outliers inside a channel clipped so that the bulk gets finer steps. Null when no
   * channel gains from clipping.
   */
  static QParams mseWeightRange(INDArray w, QParams p) {
    int axis = p.perChannel() ? p.axis() : -1;
    int ch = axis < 0 ? 1 : (int) w.size(axis);
    long inner = 1;
    if (axis >= 0) {
      for (int d = axis + 1; d < w.rank(); d++) {
        inner *= w.size(d);
      }
    }
    float[] v = w.dup('c').data().asFloat();
    float[] max = axis < 0 ? new float[1] : CrossLayerEqualization.absMax(w, axis);
    if (axis < 0) {
      for (float x : v) {
        max[0] = Math.max(max[0], Math.abs(x));
      }
    }
    double[] best = new double[ch];
    float[] bestAlpha = new float[ch];
    Arrays.fill(best, Double.POSITIVE_INFINITY);
    for (int step = 0; step <= 16; step++) {
      float alpha = 1f - 0.05f * step;
      float[] lo = new float[ch];
      float[] hi = new float[ch];
      for (int c = 0; c < ch; c++) {
        hi[c] = alpha * max[c];
        lo[c] = -hi[c];
      }
      QParams q = QParams.of(lo, hi, axis, p.type(), true);
      float[] f = FakeQuant.apply(w, q).dup('c').data().asFloat();
      double[] err = new double[ch];
      for (int e = 0; e < v.length; e++) {
        int c = axis < 0 ? 0 : (int) ((e / inner) % ch);
        double d = (double) f[e] - v[e];
        err[c] += d * d;
      }
      for (int c = 0; c < ch; c++) {
        if (err[c] < best[c] - 1e-12 * Math.max(1, best[c] == Double.POSITIVE_INFINITY ? 1 : best[c])) {
          best[c] = err[c];
          bestAlpha[c] = alpha;
        }
      }
    }
    boolean any = false;
    float[] lo = new float[ch];
    float[] hi = new float[ch];
    for (int c = 0; c < ch; c++) {
      any |= bestAlpha[c] < 1f;
      hi[c] = bestAlpha[c] * max[c];
      lo[c] = -hi[c];
    }
    return any ? QParams.of(lo, hi, axis, p.type(), true) : null;
  }

  private static Fix replace(String name, Set<String> scope, CalibrationNode c) {
    FixTrials.Variant v = new FixTrials.Variant();
    v.replace.put(c.name(), c);
    return new Fix(name, v, scope);
  }

  /** The method a calibration node was calibrated with (max for loaded or unknown ones). */
  static CalibrationMethod currentMethod(CalibrationNode c) {
    String m = c.method().toLowerCase(Locale.ROOT).strip();
    if (m.startsWith("percentile")) {
      return CalibrationMethod.PERCENTILE;
    }
    for (CalibrationMethod x : List.of(CalibrationMethod.KL, CalibrationMethod.MSE, CalibrationMethod.MAX)) {
      if (m.equals(x.label())) {
        return x;
      }
    }
    return CalibrationMethod.MAX;
  }

  /** The percentile of a {@code percentile P} node (99.99 otherwise). */
  static double percentileOf(CalibrationNode c) {
    String m = c.method().toLowerCase(Locale.ROOT).strip();
    if (m.startsWith("percentile ")) {
      try {
        return Double.parseDouble(m.substring("percentile ".length()).strip());
      } catch (NumberFormatException e) {
        return 99.99;
      }
    }
    return 99.99;
  }

  // ---------------------------------------------------------------- tables

  private static Table causeTable(List<NodeInfo> infos, Map<String, ActStats> acts) {
    IntColumn rank = IntColumn.create("rank");
    StringColumn node = StringColumn.create("node");
    DoubleColumn sens = PartialModels.fixed("sensitivity-cosine", 6);
    StringColumn cause = StringColumn.create("cause");
    StringColumn all = StringColumn.create("causes");
    StringColumn evidence = StringColumn.create("evidence");
    DoubleColumn local = PartialModels.fixed("local-output-cosine", 6);
    DoubleColumn acc = PartialModels.fixed("accumulated-output-cosine", 6);
    int r = 1;
    for (NodeInfo i : infos) {
      rank.append(r++);
      node.append(i.name);
      sens.append(i.sensitivity);
      cause.append(i.causes.isEmpty() ? ROUNDING : i.causes.get(0).name());
      all.append(String.join("; ", i.causes.stream().map(Cause::name).toList()));
      evidence.append(
          i.causes.isEmpty()
              ? "no statistic stands out"
              : String.join(" | ", i.causes.stream().map(c -> c.name() + ": " + c.evidence()).toList()));
      local.append(i.samples == 0 ? Double.NaN : i.localSum / i.samples);
      acc.append(i.samples == 0 ? Double.NaN : i.accSum / i.samples);
    }
    return Table.create("diagnose: causes", rank, node, sens, cause, all, evidence, local, acc);
  }

  private static Table trialTable(List<Trial> trials) {
    StringColumn node = StringColumn.create("node");
    StringColumn fix = StringColumn.create("fix");
    DoubleColumn base = PartialModels.fixed("calibrated-cosine", 6);
    DoubleColumn cos = PartialModels.fixed("fixed-cosine", 6);
    DoubleColumn gain = PartialModels.fixed("gain", 6);
    DoubleColumn baseTop1 = PartialModels.fixed("calibrated-top-1", 4);
    DoubleColumn top1 = PartialModels.fixed("fixed-top-1", 4);
    DoubleColumn top1Gain = PartialModels.fixed("top-1-gain", 4);
    boolean labeled = trials.stream().anyMatch(Trial::hasTop1);
    for (Trial t : trials) {
      node.append(t.node());
      fix.append(t.fix());
      base.append(t.baseline());
      cos.append(t.cosine());
      gain.append(t.gain());
      baseTop1.append(t.baselineTop1());
      top1.append(t.top1());
      top1Gain.append(t.top1Gain());
    }
    if (labeled) {
      return Table.create(
          "diagnose: fix trials (node alone, output cosine and top-1)",
          node, fix, base, cos, gain, baseTop1, top1, top1Gain);
    }
    return Table.create("diagnose: fix trials (node alone, output cosine)", node, fix, base, cos, gain);
  }

  private static Table summary(List<NodeInfo> infos, List<Trial> trials, List<Kept> kept) {
    StringColumn node = StringColumn.create("node");
    StringColumn cause = StringColumn.create("cause");
    StringColumn evidence = StringColumn.create("evidence");
    StringColumn tried = StringColumn.create("fixes-tried (gain)");
    StringColumn keptFix = StringColumn.create("kept-fix");
    for (NodeInfo i : infos) {
      node.append(i.name);
      cause.append(i.causes.isEmpty() ? ROUNDING : i.causes.get(0).name());
      evidence.append(i.causes.isEmpty() ? "" : i.causes.get(0).evidence());
      List<String> parts = new ArrayList<>();
      trials.stream()
          .filter(t -> t.node().equals(i.name))
          .sorted(Trial.BY_GAIN)
          .forEach(
              t ->
                  parts.add(
                      t.hasTop1()
                          ? String.format(
                              Locale.ROOT, "%s %+.6f (top-1 %+.2f%%)", t.fix(), t.gain(), 100 * t.top1Gain())
                          : String.format(Locale.ROOT, "%s %+.6f", t.fix(), t.gain())));
      tried.append(String.join("; ", parts));
      keptFix.append(
          kept.stream().filter(k -> k.node().equals(i.name)).map(Kept::fix).reduce((a, b) -> b).orElse("none"));
    }
    return Table.create("diagnose: summary", node, cause, evidence, tried, keptFix);
  }

  private static Table accuracyTable(
      Map<String, double[]> metrics, double floatTop1, int k, int inFloat, int inInt16, boolean accuracy) {
    StringColumn model = StringColumn.create("model");
    DoubleColumn cos = PartialModels.fixed("output-cosine-similarity", 6);
    DoubleColumn top1 = PartialModels.fixed("top-1", 4);
    DoubleColumn pct = PartialModels.fixed("percent-of-float", 2);
    IntColumn fl = IntColumn.create("nodes-in-float");
    IntColumn i16 = IntColumn.create("nodes-in-int16");
    for (Map.Entry<String, double[]> e : metrics.entrySet()) {
      model.append(e.getKey());
      cos.append(e.getValue()[0]);
      top1.append(e.getValue()[1]);
      pct.append(100 * e.getValue()[1] / floatTop1);
      String key = e.getKey();
      fl.append(key.equals("fixed") ? inFloat : key.startsWith("top-") ? k : 0);
      i16.append(key.equals("fixed") ? inInt16 : 0);
    }
    Table t = Table.create("diagnose: accuracy", model, cos);
    if (accuracy) {
      t.addColumns(top1, pct);
    }
    return t.addColumns(fl, i16);
  }

  private static Figure figure(List<NodeInfo> infos, List<Trial> trials) {
    String[] x = infos.stream().map(i -> i.name).toArray(String[]::new);
    Map<String, double[]> series = new LinkedHashMap<>();
    for (Trial t : trials) {
      String kind = t.fix().replaceAll(" on .*$", "").replaceAll(" with .*$", "");
      double[] y = series.computeIfAbsent(kind, key -> {
        double[] v = new double[x.length];
        Arrays.fill(v, Double.NaN);
        return v;
      });
      int i = Arrays.asList(x).indexOf(t.node());
      y[i] = Double.isNaN(y[i]) ? t.gain() : Math.max(y[i], t.gain());
    }
    return Figures.categoryLines(
        "Fix trials: gain in output cosine with each node alone quantized",
        "node (most sensitive first)",
        "output cosine gain over calibrated",
        x,
        Map.of(),
        series);
  }
}
