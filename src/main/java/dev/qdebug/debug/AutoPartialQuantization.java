package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.SampleSet;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.QType;
import dev.qdebug.quant.TensorKind;
import dev.qdebug.viz.Html;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Axis;
import tech.tablesaw.plotly.components.Figure;
import tech.tablesaw.plotly.components.Layout;
import tech.tablesaw.plotly.components.Line;
import tech.tablesaw.plotly.components.Marker;
import tech.tablesaw.plotly.components.Symbol;
import tech.tablesaw.plotly.traces.ScatterTrace;
import tech.tablesaw.plotly.traces.Trace;

/**
 * Automatic partial quantization (beyond Horizon, which draws the curve of {@link
 * PartialQuantization} and leaves the choice to the user): the fewest of the most sensitive nodes
 * to leave in float (or raise to int16) so that the model meets a target, and the deployable
 * partially quantized model.
 *
 * <p>The target is either top-1 accuracy on a labeled set, as a fraction of the float model's
 * (default 0.99: at most 1% lost, Horizon's usual criterion), or, without a labeled set, the output
 * cosine similarity on the calibration data. Nodes are ranked by {@link NodeSensitivity} (output
 * cosine with the node alone quantized, worst first; or the nodes given). Variant k is the
 * calibrated model with the calibration nodes of the first k nodes left in float ({@link
 * Restore#FLOAT}) or raised to int16 over the same range ({@link Restore#INT16}); variant 0 is the
 * calibrated model. Accuracy is close to monotone in k, so k is found by a galloping search (k =
 * 1, 2, 4, ... until a variant passes, then bisection between the last failing and the first
 * passing k: about 2 log2 k evaluations, few when a few nodes are to blame, as is usual), which
 * ends with k passing and k - 1 failing, both evaluated and shown. {@code exhaustive} evaluates every k
 * instead, takes the smallest passing one, and reports whether the metric was monotone.
 *
 * <p>Results: the evaluated variants (table and figure of the metric against k), a summary shaped
 * like Horizon's tutorial table (model, strategy, float accuracy, calibration method, quantized
 * accuracy, % of float), and the partially quantized model as standard QDQ ONNX.
 */
public final class AutoPartialQuantization {
  /** What happens to the calibration nodes of the chosen nodes. */
  public enum Restore {
    /** Switched off: those tensors stay float. */
    FLOAT,
    /** Raised to int16 over the same float range. */
    INT16;

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * Options.
   *
   * @param dataset a labeled set ({@code DIR/labels.npy} beside the samples) for an accuracy
   *     target; null for an output-cosine target on the calibration data
   * @param target with a dataset, the top-1 accuracy to reach as a fraction of the float model's;
   *     without, the output cosine similarity to reach
   * @param restore leave the chosen nodes in float or raise them to int16
   * @param dataNum calibration samples for the sensitivity ranking and the cosine target (0: all)
   * @param evalNum labeled samples for accuracy (0: all)
   * @param sensitiveNodes the ranking to use, most sensitive first; null to rank every normal node
   * @param exhaustive evaluate every k instead of the galloping search
   * @param floatAccuracy the float model's top-1 on the same samples when already known (saves one
   *     accuracy run); null to compute it
   */
  public record Options(
      Path dataset,
      double target,
      Restore restore,
      int dataNum,
      int evalNum,
      List<String> sensitiveNodes,
      boolean exhaustive,
      Double floatAccuracy) {
    public Options {
      if (sensitiveNodes != null) {
        sensitiveNodes = List.copyOf(sensitiveNodes);
      }
      if (evalNum < 0) {
        throw new UsageException("--eval-num: " + evalNum + " is negative");
      }
    }

    /** 99% of float top-1 (once a dataset is set), nodes left in float, all samples, galloping search. */
    public static Options defaults() {
      return new Options(null, 0.99, Restore.FLOAT, 0, 0, null, false, null);
    }

    public Options dataset(Path dir) {
      return new Options(dir, target, restore, dataNum, evalNum, sensitiveNodes, exhaustive, floatAccuracy);
    }

    public Options target(double t) {
      return new Options(dataset, t, restore, dataNum, evalNum, sensitiveNodes, exhaustive, floatAccuracy);
    }

    public Options restore(Restore r) {
      return new Options(dataset, target, r, dataNum, evalNum, sensitiveNodes, exhaustive, floatAccuracy);
    }

    public Options dataNum(int n) {
      return new Options(dataset, target, restore, n, evalNum, sensitiveNodes, exhaustive, floatAccuracy);
    }

    public Options evalNum(int n) {
      return new Options(dataset, target, restore, dataNum, n, sensitiveNodes, exhaustive, floatAccuracy);
    }

    public Options sensitiveNodes(List<String> nodes) {
      return new Options(dataset, target, restore, dataNum, evalNum, nodes, exhaustive, floatAccuracy);
    }

    public Options floatAccuracy(Double top1) {
      return new Options(dataset, target, restore, dataNum, evalNum, sensitiveNodes, exhaustive, top1);
    }

    public Options exhaustive(boolean b) {
      return new Options(dataset, target, restore, dataNum, evalNum, sensitiveNodes, b, floatAccuracy);
    }
  }

  /**
   * The search result.
   *
   * @param ranking the nodes in the order they are left in float (or raised), most sensitive first
   * @param k how many of them the partially quantized model changes ({@code ranking.size()} when
   *     the target is not reached)
   * @param reached whether variant k meets the target
   * @param monotone whether the evaluated k agree with the search's assumption: once one meets the
   *     target, every larger evaluated k does too (only an exhaustive search can show otherwise;
   *     then k is still the smallest passing one)
   * @param threshold the metric value to reach (accuracy: target times float accuracy)
   * @param floatAccuracy top-1 of the float model (NaN for a cosine target)
   * @param values the metric of every evaluated k
   * @param search {@code k}, {@code node} (the k-th node), {@code calibration-nodes} (how many are
   *     changed), the metric ({@code top-1} or {@code cosine-similarity}), {@code percent-of-float}
   *     (accuracy only), {@code meets-target}, {@code step} (evaluation order)
   * @param summary the tutorial-shaped table: calibrated, k - 1 and k
   * @param figure the metric against k, with the target
   * @param nodes the calibration nodes of the partially quantized model (int16 where raised)
   * @param enabled the calibration nodes it switches on
   * @param floatModel the float model the nodes belong to
   */
  public record Result(
      List<String> ranking,
      int k,
      boolean reached,
      boolean monotone,
      double threshold,
      double floatAccuracy,
      Map<Integer, Double> values,
      Table search,
      Table summary,
      Figure figure,
      List<CalibrationNode> nodes,
      Set<String> enabled,
      OnnxModel floatModel,
      Options options)
      implements Report {
    /** The nodes the partially quantized model leaves in float (or raises to int16). */
    public List<String> chosenNodes() {
      return ranking.subList(0, k);
    }

    /** Writes the partially quantized model as standard QDQ ONNX, atomically. */
    public void saveModel(Path file) {
      try (CalibratedModel m = new CalibratedModel(floatModel, nodes, enabled)) {
        m.save(file, enabled);
      }
    }

    /**
     * Writes {@code partial_quantization_search.csv} and {@code .html}, {@code
     * partial_quantization_summary.csv} and {@code partial_quantized_model.onnx}.
     */
    @Override
    public void save(Path dir) {
      Html.writeCsv(dir.resolve("partial_quantization_search.csv"), search);
      Html.writeFigure(
          dir.resolve("partial_quantization_search.html"), "partial quantization search", figure,
          "Each point is one evaluated k (the k most sensitive nodes left in float); the star is the"
              + " fewest that reach the target.");
      Html.writeCsv(dir.resolve("partial_quantization_summary.csv"), summary);
      saveModel(dir.resolve("partial_quantized_model.onnx"));
    }
  }

  private AutoPartialQuantization() {}

  /** Searches the fewest nodes to change so that the model meets {@code o}'s target. */
  public static Result run(
      CalibratedModel model, SampleSet calibration, Options o, Progress progress) {
    boolean accuracy = o.dataset() != null;
    if (accuracy && !(o.target() > 0 && o.target() <= 1)) {
      throw new UsageException(
          "--target: " + o.target() + " is not a fraction of float accuracy in (0, 1]");
    }
    if (!accuracy && !(o.target() >= -1 && o.target() <= 1)) {
      throw new UsageException(
          "--target: " + o.target() + " is not a cosine similarity in [-1, 1]");
    }
    int n = PartialModels.sampleCount(calibration, o.dataNum());
    SampleSet labeled = accuracy ? SampleSet.open(o.dataset(), model.floatModel().inputs()) : null;
    if (accuracy) {
      labeled.labels(); // fails early, naming the file, when there are none
      if (o.evalNum() > labeled.size()) {
        throw new UsageException(
            "--eval-num: " + o.evalNum() + " samples asked, " + o.dataset() + " has " + labeled.size());
      }
    }
    List<String> ranking;
    if (o.sensitiveNodes() != null) {
      ranking = o.sensitiveNodes();
    } else {
      ranking =
          NodeSensitivity.run(
                  model, calibration, NodeSensitivity.Options.defaults().dataNum(n), progress)
              .ranking();
    }
    List<Set<String>> prefix =
        new ArrayList<>(); // prefix.get(k): calibration nodes of nodes 0..k-1
    prefix.add(Set.of());
    Set<String> acc = new LinkedHashSet<>();
    for (String node : ranking) {
      acc.addAll(PartialModels.calibrationsOf(model, List.of(node), "--sensitive-nodes"));
      prefix.add(Set.copyOf(acc));
    }
    int kmax = ranking.size();
    try (Evaluator ev = new Evaluator(model, calibration, labeled, n, o, prefix, progress, kmax)) {
      double floatAcc = accuracy ? ev.floatAccuracy() : Double.NaN;
      double threshold = accuracy ? o.target() * floatAcc : o.target();
      int found;
      if (o.exhaustive()) {
        found = -1;
        for (int k = 0; k <= kmax; k++) {
          if (ev.value(k) >= threshold && found < 0) {
            found = k;
          }
        }
      } else if (ev.value(0) >= threshold) {
        found = 0;
      } else if (kmax == 0) {
        found = -1;
      } else {
        // galloping: k = 1, 2, 4, ... until one passes (the answer is usually a few nodes), then
        // bisection between the last failing and the first passing k
        int lo = 0; // fails
        int hi = -1; // passes
        for (int k = 1; hi < 0; k = Math.min(2 * k, kmax)) {
          if (ev.value(k) >= threshold) {
            hi = k;
          } else if (k == kmax) {
            break;
          } else {
            lo = k;
          }
        }
        if (hi < 0) {
          found = -1;
        } else {
          while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (ev.value(mid) >= threshold) {
              hi = mid;
            } else {
              lo = mid;
            }
          }
          found = hi;
        }
      }
      boolean reached = found >= 0;
      int k = reached ? found : kmax;
      if (k > 0) { // the boundary: k passes, k - 1 fails (both already known after a bisection)
        ev.value(k - 1);
      }
      boolean monotone = true; // once an evaluated k passes, every larger evaluated k passes
      boolean passed = false;
      for (double v : new TreeMap<>(ev.values).values()) {
        monotone &= !(passed && v < threshold);
        passed |= v >= threshold;
      }
      ev.finish();
      List<CalibrationNode> nodes = ev.nodesOf(k);
      Set<String> enabled = ev.enabledOf(k);
      Table search = searchTable(ranking, prefix, ev, threshold, floatAcc, accuracy);
      Table summary = summary(model, ranking, ev, k, floatAcc, accuracy, o.restore());
      Figure figure = figure(ranking, ev, threshold, floatAcc, accuracy, k, reached, o.restore());
      return new Result(
          ranking,
          k,
          reached,
          monotone,
          threshold,
          floatAcc,
          new TreeMap<>(ev.values),
          search,
          summary,
          figure,
          nodes,
          enabled,
          model.floatModel(),
          o);
    }
  }

  /** Evaluates variant k once (memoized); for int16, on a private copy of the model. */
  private static final class Evaluator implements AutoCloseable {
    final CalibratedModel model;
    final CalibratedModel work; // null unless int16
    final SampleSet calibration;
    final SampleSet labeled;
    final int n;
    final Options o;
    final List<Set<String>> prefix;
    final Progress progress;
    final Map<Integer, Double> values = new LinkedHashMap<>(); // in evaluation order
    final Map<String, CalibrationNode> original = new LinkedHashMap<>();
    final Map<String, CalibrationNode> raised = new LinkedHashMap<>();
    final long expected;
    long steps;

    Evaluator(
        CalibratedModel model,
        SampleSet calibration,
        SampleSet labeled,
        int n,
        Options o,
        List<Set<String>> prefix,
        Progress progress,
        int kmax) {
      this.model = model;
      this.calibration = calibration;
      this.labeled = labeled;
      this.n = n;
      this.o = o;
      this.prefix = prefix;
      this.progress = progress;
      int bisect = 2 + 2 * (int) Math.ceil(Math.log(Math.max(2, kmax)) / Math.log(2));
      this.expected = (o.exhaustive() ? kmax + 1 : bisect) + (labeled != null ? 1 : 0);
      for (CalibrationNode c : model.nodes()) {
        original.put(c.name(), c);
      }
      if (o.restore() == Restore.INT16) {
        for (String c : prefix.get(prefix.size() - 1)) {
          raised.put(c, original.get(c).withType(QType.INT16));
        }
        work = new CalibratedModel(model.floatModel(), model.nodes(), model.enabled());
      } else {
        work = null;
      }
    }

    Double floatAccuracy;

    double floatAccuracy() {
      floatAccuracy =
          o.floatAccuracy() != null
              ? o.floatAccuracy()
              : Accuracy.top1(model, labeled, Set.of(), o.evalNum(), Progress.NONE);
      tick();
      return floatAccuracy;
    }

    Set<String> enabledOf(int k) {
      return o.restore() == Restore.FLOAT
          ? PartialModels.blacklist(model, prefix.get(k))
          : model.enabled();
    }

    List<CalibrationNode> nodesOf(int k) {
      List<CalibrationNode> out = new ArrayList<>();
      for (CalibrationNode c : original.values()) {
        out.add(
            o.restore() == Restore.INT16 && prefix.get(k).contains(c.name())
                ? raised.get(c.name())
                : c);
      }
      return out;
    }

    double value(int k) {
      Double v = values.get(k);
      if (v != null) {
        return v;
      }
      CalibratedModel m = model;
      if (work != null) {
        for (CalibrationNode c : nodesOf(k)) {
          work.replace(c);
        }
        m = work;
      }
      Set<String> enabled = enabledOf(k);
      double x =
          labeled != null && enabled.isEmpty() && floatAccuracy != null
              ? floatAccuracy // the float model itself
              : labeled != null
                  ? Accuracy.top1(m, labeled, enabled, o.evalNum(), Progress.NONE)
                  : PartialModels.outputCosines(
                      m, calibration, n, List.of(enabled), Progress.NONE, "")[0];
      values.put(k, x);
      tick();
      return x;
    }

    int step(int k) {
      return new ArrayList<>(values.keySet()).indexOf(k) + 1;
    }

    private void tick() {
      steps++;
      progress.update("partial-quantization", steps, Math.max(expected, steps + 1));
    }

    void finish() {
      progress.update("partial-quantization", steps, steps);
    }

    @Override
    public void close() {
      if (work != null) {
        work.close();
      }
    }
  }

  private static String metricLabel(boolean accuracy) {
    return accuracy ? "top-1" : "cosine-similarity";
  }

  private static Table searchTable(
      List<String> ranking,
      List<Set<String>> prefix,
      Evaluator ev,
      double threshold,
      double floatAcc,
      boolean accuracy) {
    IntColumn k = IntColumn.create("k");
    StringColumn node = StringColumn.create("node");
    IntColumn cal = IntColumn.create("calibration-nodes");
    DoubleColumn value = PartialModels.fixed(metricLabel(accuracy), accuracy ? 4 : 6);
    DoubleColumn pct = PartialModels.fixed("percent-of-float", 2);
    StringColumn meets = StringColumn.create("meets-target");
    IntColumn step = IntColumn.create("step");
    for (int i : new TreeMap<>(ev.values).keySet()) {
      double v = ev.values.get(i);
      k.append(i);
      node.append(i == 0 ? PartialQuantization.NONE : ranking.get(i - 1));
      cal.append(prefix.get(i).size());
      value.append(v);
      pct.append(100 * v / floatAcc);
      meets.append(v >= threshold ? "yes" : "no");
      step.append(ev.step(i));
    }
    Table t = Table.create("partial quantization search", k, node, cal, value);
    if (accuracy) {
      t.addColumns(pct);
    }
    return t.addColumns(meets, step);
  }

  private static String strategy(int k, Restore restore) {
    if (k == 0) {
      return "calibrated (all calibration nodes quantized)";
    }
    String what = restore == Restore.FLOAT ? "in float" : "in int16";
    return "top " + k + " sensitive node" + (k == 1 ? "" : "s") + " " + what;
  }

  private static Table summary(
      CalibratedModel model,
      List<String> ranking,
      Evaluator ev,
      int k,
      double floatAcc,
      boolean accuracy,
      Restore restore) {
    String name = PartialModels.modelName(model);
    String method = PartialModels.methodLabel(model);
    StringColumn mc = StringColumn.create("model");
    StringColumn sc = StringColumn.create("strategy");
    DoubleColumn fc = PartialModels.fixed("float-accuracy", 4);
    StringColumn cm = StringColumn.create("calibration-method");
    DoubleColumn qc =
        PartialModels.fixed(accuracy ? "quantized-accuracy" : "output-cosine-similarity", accuracy ? 4 : 6);
    DoubleColumn pc = PartialModels.fixed("percent-of-float", 2);
    Set<Integer> rows = new LinkedHashSet<>(List.of(0));
    if (k > 1) {
      rows.add(k - 1);
    }
    rows.add(k);
    for (int r : rows) {
      mc.append(name);
      sc.append(strategy(r, restore));
      fc.append(floatAcc);
      cm.append(method);
      qc.append(ev.value(r));
      pc.append(100 * ev.value(r) / floatAcc);
    }
    Table t = Table.create(accuracy ? "accuracy" : "output cosine similarity", mc, sc);
    if (accuracy) {
      t.addColumns(fc);
    }
    t.addColumns(cm, qc);
    if (accuracy) {
      t.addColumns(pc);
    }
    return t;
  }

  private static Figure figure(
      List<String> ranking,
      Evaluator ev,
      double threshold,
      double floatAcc,
      boolean accuracy,
      int k,
      boolean reached,
      Restore restore) {
    TreeMap<Integer, Double> v = new TreeMap<>(ev.values);
    double[] x = v.keySet().stream().mapToDouble(i -> i).toArray();
    double[] y = v.values().stream().mapToDouble(d -> d).toArray();
    String[] hover =
        v.keySet().stream()
            .map(i -> i == 0 ? "calibrated" : "+ " + ranking.get(i - 1))
            .toArray(String[]::new);
    String what = restore == Restore.FLOAT ? "left in float" : "raised to int16";
    String metric = accuracy ? "top-1 accuracy" : "output cosine similarity";
    List<Trace> traces = new ArrayList<>();
    traces.add(
        ScatterTrace.builder(x, y)
            .mode(ScatterTrace.Mode.LINE_AND_MARKERS)
            .name(metric + " (evaluated k)")
            .text(hover)
            .showLegend(true)
            .build());
    // the x axis spans the k evaluated (plus a margin), not the whole ranking
    double kMax = Math.max(1, Math.max(k, v.isEmpty() ? 0 : v.lastKey()));
    double[] ends = {0, kMax};
    traces.add(
        ScatterTrace.builder(ends, new double[] {threshold, threshold})
            .mode(ScatterTrace.Mode.LINE)
            .line(Line.builder().dash(Line.Dash.DASH).color("red").build())
            .name(String.format(Locale.ROOT, "target %.4f", threshold))
            .showLegend(true)
            .build());
    if (accuracy) {
      traces.add(
          ScatterTrace.builder(ends, new double[] {floatAcc, floatAcc})
              .mode(ScatterTrace.Mode.LINE)
              .line(Line.builder().dash(Line.Dash.DOT).color("gray").build())
              .name(String.format(Locale.ROOT, "float %.4f", floatAcc))
              .showLegend(true)
              .build());
    }
    traces.add(
        ScatterTrace.builder(new double[] {k}, new double[] {ev.value(k)})
            .mode(ScatterTrace.Mode.MARKERS)
            .marker(Marker.builder().symbol(Symbol.STAR).size(16).color("green").build())
            .name((reached ? "chosen k = " : "target not reached, k = ") + k)
            .showLegend(true)
            .build());
    Layout layout =
        Layout.builder("Automatic partial quantization: " + metric + " vs nodes " + what)
            .xAxis(
                Axis.builder()
                    .title("k (most sensitive nodes " + what + ", of " + ranking.size() + ")")
                    .range(-0.05 * kMax - 0.2, kMax * 1.05 + 0.2)
                    .build())
            .yAxis(Axis.builder().title(metric).build())
            .showLegend(true)
            .height(520)
            .width(900)
            .build();
    return new dev.qdebug.viz.Plot(layout, traces.toArray(Trace[]::new));
  }
}
