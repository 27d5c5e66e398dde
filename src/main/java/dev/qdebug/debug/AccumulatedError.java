package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Snapshot;
import dev.qdebug.engine.TensorHook;
import dev.qdebug.metrics.Metric;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.TensorKind;
import dev.qdebug.viz.Figures;
import dev.qdebug.viz.Html;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;
import tech.tablesaw.plotly.traces.ScatterTrace;
import tech.tablesaw.plotly.traces.Trace;

/**
 * {@code plot_acc_error}: accumulated error curves (Horizon's semantics, reference a.6). Each test
 * model (a set of switched-on calibration nodes) runs on the first samples, and the output tensor
 * of every normal node (a node with at least one calibration node on its inputs), in graph order,
 * is compared with the float model's by one metric. Every point compares with float, so the error
 * of everything upstream adds up along the curve. The tensor compared is the node's own output,
 * before the calibration node on it quantizes it for its consumers (as in Horizon's graph, where
 * that calibration node is a separate node).
 *
 * <p>Test models, by {@code quantizeNode} / {@code nonQuantizeNode} (both may be given: two
 * figures):
 *
 * <ul>
 *   <li>{@code weight} and/or {@code activation} in {@code quantizeNode}: the calibrated model
 *       ({@code weight_activation_calibrated}) plus the float model with every activation ({@code
 *       only_activation_calibrated}) and/or every weight ({@code only_weight_calibrated})
 *       calibration node on; node names beside them are ignored, as in Horizon;
 *   <li>a flat list of nodes: one curve per node, float plus only that node's calibration nodes
 *       ({@code quantizeNode}), or the calibrated model minus them ({@code nonQuantizeNode});
 *   <li>groups (Horizon's nested lists): {@code default calibrated model} plus {@code
 *       partial_qmodel_i}, float plus group i, or the calibrated model minus group i.
 * </ul>
 *
 * <p>{@code averageMode} replaces each curve by its running mean, {@code y'[i] = mean(y[0..i])}.
 *
 * <p>Deviations from Horizon: Horizon removes {@code inf} values from a curve before plotting, so
 * every later point moves one place left and no longer lines up with its node (a bug: sqnr is
 * {@code inf} wherever a tensor is still exactly float, so sqnr curves lose their first points).
 * Here every point keeps its x position: the tables hold {@code inf} and NaN as they are, the
 * figures draw them as gaps, and the running mean skips them. Flat node lists keep the order given
 * (Horizon's {@code set()} loses it). A node without calibration nodes is an error rather than a
 * curve identical to float.
 *
 * <p>Beyond Horizon: any number of samples (Horizon uses exactly one; the default here is one as
 * well), each point the mean over samples of the per-sample metric (NaN samples dropped); the
 * numbers as CSV beside each figure; and speed: the float run is done once per batch, and each test
 * model re-runs only the graph downstream of its calibration nodes.
 */
public final class AccumulatedError {
  /** Horizon's keyword for every weight calibration node. */
  public static final String WEIGHT = "weight";

  /** Horizon's keyword for every activation calibration node. */
  public static final String ACTIVATION = "activation";

  /** Horizon's label of the full calibrated model in the partial-model modes. */
  public static final String DEFAULT_CALIBRATED = "default calibrated model";

  /**
   * Options.
   *
   * @param quantizeNode the test models that quantize: groups of names (a flat list is groups of
   *     one), or {@link #WEIGHT} / {@link #ACTIVATION}; empty for none
   * @param quantizeGroups whether {@code quantizeNode} is Horizon's nested list (partial models)
   * @param nonQuantizeNode the test models that leave nodes in float, as {@code quantizeNode}
   * @param nonQuantizeGroups whether {@code nonQuantizeNode} is a nested list
   * @param metric the metric compared
   * @param averageMode plot running means
   * @param dataNum the first N samples (0: all)
   */
  public record Options(
      List<List<String>> quantizeNode,
      boolean quantizeGroups,
      List<List<String>> nonQuantizeNode,
      boolean nonQuantizeGroups,
      Metric metric,
      boolean averageMode,
      int dataNum) {
    public Options {
      quantizeNode = quantizeNode.stream().map(List::copyOf).toList();
      nonQuantizeNode = nonQuantizeNode.stream().map(List::copyOf).toList();
    }

    /**
     * Weight and activation curves (the three-curve plot, {@code runall}'s default), cosine
     * similarity, the first sample.
     */
    public static Options defaults() {
      return new Options(
          List.of(List.of(WEIGHT), List.of(ACTIVATION)),
          false,
          List.of(),
          false,
          Metric.COSINE_SIMILARITY,
          false,
          1);
    }

    /** One curve per node (or {@code weight}/{@code activation}), quantized alone. */
    public Options quantizeNode(List<String> nodes) {
      return new Options(
          singletons(nodes),
          false,
          nonQuantizeNode,
          nonQuantizeGroups,
          metric,
          averageMode,
          dataNum);
    }

    /** One partial model per group, each group quantized together (Horizon's nested list). */
    public Options quantizeNodeGroups(List<List<String>> groups) {
      return new Options(
          groups, true, nonQuantizeNode, nonQuantizeGroups, metric, averageMode, dataNum);
    }

    /** One curve per node, the calibrated model with that node left in float. */
    public Options nonQuantizeNode(List<String> nodes) {
      return new Options(
          quantizeNode, quantizeGroups, singletons(nodes), false, metric, averageMode, dataNum);
    }

    /** One partial model per group, the calibrated model with the group left in float. */
    public Options nonQuantizeNodeGroups(List<List<String>> groups) {
      return new Options(quantizeNode, quantizeGroups, groups, true, metric, averageMode, dataNum);
    }

    public Options metric(Metric m) {
      return new Options(
          quantizeNode,
          quantizeGroups,
          nonQuantizeNode,
          nonQuantizeGroups,
          m,
          averageMode,
          dataNum);
    }

    public Options averageMode(boolean b) {
      return new Options(
          quantizeNode, quantizeGroups, nonQuantizeNode, nonQuantizeGroups, metric, b, dataNum);
    }

    public Options dataNum(int n) {
      return new Options(
          quantizeNode, quantizeGroups, nonQuantizeNode, nonQuantizeGroups, metric, averageMode, n);
    }

    private static List<List<String>> singletons(List<String> nodes) {
      return nodes.stream().map(List::of).toList();
    }
  }

  /** A compared point: the output {@code tensor} of normal node {@code node}. */
  public record Point(String node, String tensor) {}

  /**
   * One figure: its curves over the points.
   *
   * @param prefix Horizon's file prefix, e.g. {@code weight_activation_quantized_separately}
   * @param fileStem {@code [average_]<prefix>_<metric>}, the name of the HTML and CSV files
   * @param table {@code index}, {@code node}, {@code tensor}, then one column per curve
   * @param figure the curves against node index
   */
  public record Plot(String prefix, String fileStem, Table table, Figure figure) {
    /** Curve labels, in legend order. */
    public List<String> curves() {
      return table.columnNames().subList(3, table.columnCount());
    }

    /** The values of curve {@code label}, one per point ({@code inf} and NaN kept). */
    public double[] curve(String label) {
      if (!curves().contains(label)) {
        throw new IllegalArgumentException("no curve '" + label + "'; curves: " + curves());
      }
      return table.doubleColumn(label).asDoubleArray();
    }
  }

  /** The figures, one per mode asked for (quantizing first, then not quantizing). */
  public record Result(List<Point> points, List<Plot> plots, Options options) implements Report {
    public Result {
      points = List.copyOf(points);
      plots = List.copyOf(plots);
    }

    /** The figure whose Horizon prefix is {@code prefix}. */
    public Plot plot(String prefix) {
      return plots.stream()
          .filter(p -> p.prefix().equals(prefix))
          .findFirst()
          .orElseThrow(
              () ->
                  new IllegalArgumentException(
                      "no plot '"
                          + prefix
                          + "'; plots: "
                          + plots.stream().map(Plot::prefix).toList()));
    }

    /** Writes {@code <fileStem>.html} (the figure) and {@code <fileStem>.csv} per plot. */
    @Override
    public void save(Path dir) {
      for (Plot p : plots) {
        Html.writeCsv(dir.resolve(p.fileStem() + ".csv"), p.table());
        Html.writeFigure(
            dir.resolve(p.fileStem() + ".html"),
            p.fileStem(),
            p.figure(),
            "Each curve is one test model; at every node (in graph order) it gives the similarity of"
                + " that node's output with the float model's. The curve that falls is the part"
                + " that loses accuracy.");
      }
    }
  }

  private AccumulatedError() {}

  /** The compared points of {@code model}: every output of every normal node, in graph order. */
  public static List<Point> points(CalibratedModel model) {
    List<Point> out = new ArrayList<>();
    for (String n : PartialModels.normalNodes(model)) {
      for (String t : model.floatModel().node(n).outputs()) {
        if (!t.isEmpty()) {
          out.add(new Point(n, t));
        }
      }
    }
    return out;
  }

  /** A test model: its label and the calibration nodes switched on. */
  record TestModel(String label, Set<String> enabled) {}

  /** A figure to draw: Horizon's prefix and its test models. */
  record Mode(String prefix, List<TestModel> models) {}

  /**
   * The figures {@code o} asks for, with their test models.
   *
   * @throws UsageException when nothing is asked, or {@code weight}/{@code activation} is given as
   *     a node to leave in float
   */
  static List<Mode> modes(CalibratedModel model, Options o) {
    List<String> q = o.quantizeNode().stream().flatMap(List::stream).toList();
    List<String> nq = o.nonQuantizeNode().stream().flatMap(List::stream).toList();
    if (q.isEmpty() && nq.isEmpty()) {
      throw new UsageException(
          "--quantize-node / --non-quantize-node: give at least one (weight, activation or nodes)");
    }
    if (nq.contains(WEIGHT) || nq.contains(ACTIVATION)) {
      throw new UsageException(
          "--non-quantize-node: 'weight' and 'activation' are only allowed in --quantize-node");
    }
    List<Mode> modes = new ArrayList<>();
    Set<String> calibrated = model.enabled();
    boolean w = q.contains(WEIGHT);
    boolean a = q.contains(ACTIVATION);
    if (w || a) {
      List<TestModel> ms = new ArrayList<>();
      ms.add(new TestModel("weight_activation_calibrated", calibrated));
      if (a) {
        ms.add(new TestModel("only_activation_calibrated", ofKind(model, TensorKind.ACTIVATION)));
      }
      if (w) {
        ms.add(new TestModel("only_weight_calibrated", ofKind(model, TensorKind.WEIGHT)));
      }
      String prefix =
          w && a
              ? "weight_activation_quantized_separately"
              : w ? "weight_quantized" : "activation_quantized";
      modes.add(new Mode(prefix, ms));
    } else if (!q.isEmpty()) {
      modes.add(nodeMode(model, o.quantizeNode(), o.quantizeGroups(), true, "--quantize-node"));
    }
    if (!nq.isEmpty()) {
      modes.add(
          nodeMode(
              model, o.nonQuantizeNode(), o.nonQuantizeGroups(), false, "--non-quantize-node"));
    }
    return modes;
  }

  private static Mode nodeMode(
      CalibratedModel model,
      List<List<String>> groups,
      boolean nested,
      boolean quantize,
      String option) {
    String side = quantize ? "quantize_node" : "non_quantize_node";
    List<TestModel> ms = new ArrayList<>();
    if (nested) {
      ms.add(new TestModel(DEFAULT_CALIBRATED, model.enabled()));
      for (int i = 0; i < groups.size(); i++) {
        ms.add(
            new TestModel("partial_qmodel_" + i, variant(model, groups.get(i), quantize, option)));
      }
      return new Mode(side + "_accumulate_err_of_partial_qmodel", ms);
    }
    Set<String> seen = new LinkedHashSet<>();
    groups.forEach(seen::addAll);
    for (String n : seen) {
      ms.add(new TestModel(n, variant(model, List.of(n), quantize, option)));
    }
    return new Mode(side + "_accumulate_err_of_node", ms);
  }

  private static Set<String> variant(
      CalibratedModel model, List<String> nodes, boolean quantize, String option) {
    Set<String> cal = PartialModels.calibrationsOf(model, nodes, option);
    return quantize ? PartialModels.whitelist(cal) : PartialModels.blacklist(model, cal);
  }

  private static Set<String> ofKind(CalibratedModel model, TensorKind kind) {
    Set<String> out = new LinkedHashSet<>();
    for (CalibrationNode c : model.nodes()) {
      if (c.kind() == kind) {
        out.add(c.name());
      }
    }
    return out;
  }

  /** Runs the test models of {@code o} and draws their curves. */
  public static Result run(CalibratedModel model, SampleSet data, Options o, Progress progress) {
    List<Mode> modes = modes(model, o);
    int n = PartialModels.sampleCount(data, o.dataNum());
    List<Point> points = points(model);
    List<TestModel> all = new ArrayList<>();
    modes.forEach(m -> all.addAll(m.models()));
    // sum[model][point] of the per-sample metric (NaN samples dropped), count[model][point]
    double[][] sum = new double[all.size()][points.size()];
    int[][] count = new int[all.size()][points.size()];
    Map<String, List<Integer>> pointsOfTensor = new HashMap<>();
    for (int p = 0; p < points.size(); p++) {
      pointsOfTensor.computeIfAbsent(points.get(p).tensor(), k -> new ArrayList<>()).add(p);
    }
    List<Set<String>> variants = all.stream().map(TestModel::enabled).toList();
    Set<String> keep = new LinkedHashSet<>(model.floatModel().outputs().stream().map(v -> v.name()).toList());
    points.forEach(p -> keep.add(p.tensor()));
    Workers.Sweep sweep = Workers.Sweep.of(model.session(), data, n, "plot-acc-error");
    List<BatchPlan.Batch> batches = sweep.batches();
    long total = (long) all.size() * batches.size();
    for (int b = 0; b < batches.size(); b++) {
      BatchPlan.Batch batch = batches.get(b);
      int c = batch.size();
      Snapshot base = model.floatSnapshot(data.batch(batch.samples()), variants, keep);
      long start = (long) b * all.size();
      // the test models on both cores for a small model: each writes its own sums
      sweep.run(
          all.size(),
          m -> {
            // per point, the per-sample metric of the tensor as its node produced it, before any
            // calibration node on it; a tensor can pass the hook twice (its own calibration node
            // switched on, then recomputed downstream of another): the last value is the one
            // used. Only metric values are kept, so memory stays that of one run.
            double[][] scores = new double[points.size()][];
            TensorHook score =
                (tensor, value) -> {
                  List<Integer> ps = pointsOfTensor.get(tensor);
                  if (ps != null) {
                    double[] v = perSample(o.metric(), base.get(tensor), value, c);
                    ps.forEach(p -> scores[p] = v);
                  }
                  return value;
                };
            rerun(model, base, all.get(m).enabled(), score);
            for (int p = 0; p < points.size(); p++) {
              double[] v = scores[p];
              if (v == null) { // not downstream of any change: identical to float
                INDArray f = base.get(points.get(p).tensor());
                v = perSample(o.metric(), f, f, c);
              }
              for (double x : v) {
                if (!Double.isNaN(x)) {
                  sum[m][p] += x;
                  count[m][p]++;
                }
              }
            }
          },
          finished -> progress.update("plot-acc-error", start + finished, total));
      base.close(); // its tensors' memory now, not when the garbage collector runs
    }
    List<Plot> plots = new ArrayList<>();
    int m = 0;
    for (Mode mode : modes) {
      Map<String, double[]> curves = new LinkedHashMap<>();
      for (TestModel t : mode.models()) {
        double[] y = new double[points.size()];
        for (int p = 0; p < points.size(); p++) {
          y[p] = count[m][p] == 0 ? Double.NaN : sum[m][p] / count[m][p];
        }
        curves.put(t.label(), o.averageMode() ? prefixMean(y) : y);
        m++;
      }
      plots.add(plot(mode.prefix(), points, curves, o));
    }
    return new Result(points, plots, o);
  }

  /**
   * Runs one test model from the float snapshot, re-executing only what its calibration nodes
   * change; {@code score} sees every recomputed tensor before the calibration node on it.
   */
  private static void rerun(
      CalibratedModel model, Snapshot base, Set<String> enabled, TensorHook score) {
    List<String> changed = new ArrayList<>();
    for (String c : enabled) {
      changed.add(model.node(c).tensor());
    }
    List<String> outputs = model.floatModel().outputs().stream().map(v -> v.name()).toList();
    model
        .session()
        .rerun(base, changed, RunOptions.outputs(outputs).hook(score.andThen(model.hook(enabled))));
  }

  /** The metric of {@code q} against {@code f}, per sample. */
  private static double[] perSample(Metric metric, INDArray f, INDArray q, int count) {
    float[][] fs = PartialModels.perSample(f, count);
    float[][] qs = PartialModels.perSample(q, count);
    double[] v = new double[count];
    for (int s = 0; s < count; s++) {
      v[s] = metric.compute(fs[s], qs[s]);
    }
    return v;
  }

  /**
   * Horizon's average mode: {@code y'[i] = mean(y[0..i])}, over the finite values so far (an {@code
   * inf} or NaN point is skipped, and is NaN itself while no finite value precedes it).
   */
  public static double[] prefixMean(double[] y) {
    double[] out = new double[y.length];
    double s = 0;
    int k = 0;
    for (int i = 0; i < y.length; i++) {
      if (Double.isFinite(y[i])) {
        s += y[i];
        k++;
      }
      out[i] = k == 0 ? Double.NaN : s / k;
    }
    return out;
  }

  /** A test model's curve name in words. */
  static String curveName(String key) {
    return switch (key) {
      case "weight_activation_calibrated" -> "weights and activations quantized";
      case "only_activation_calibrated" -> "only activations quantized";
      case "only_weight_calibrated" -> "only weights quantized";
      default -> key;
    };
  }

  private static Plot plot(
      String prefix, List<Point> points, Map<String, double[]> curves, Options o) {
    String stem = (o.averageMode() ? "average_" : "") + prefix + "_" + o.metric().label();
    int np = points.size();
    IntColumn index = IntColumn.create("index");
    StringColumn node = StringColumn.create("node");
    StringColumn tensor = StringColumn.create("tensor");
    double[] x = new double[np];
    String[] hover = new String[np];
    for (int p = 0; p < np; p++) {
      index.append(p);
      node.append(points.get(p).node());
      tensor.append(points.get(p).tensor());
      x[p] = p;
      hover[p] = points.get(p).node() + " → " + points.get(p).tensor();
    }
    Table table = Table.create(stem, index, node, tensor);
    List<Trace> traces = new ArrayList<>();
    tech.tablesaw.plotly.components.Line.Dash[] dashes = {
      tech.tablesaw.plotly.components.Line.Dash.SOLID,
      tech.tablesaw.plotly.components.Line.Dash.DASH,
      tech.tablesaw.plotly.components.Line.Dash.DOT,
      tech.tablesaw.plotly.components.Line.Dash.DASH_DOT
    };
    int c = 0;
    for (var e : curves.entrySet()) {
      table.addColumns(DoubleColumn.create(e.getKey(), e.getValue()));
      double[] y = e.getValue().clone();
      double last = Double.NaN;
      for (int p = 0; p < np; p++) {
        if (!Double.isFinite(y[p])) {
          y[p] = Double.NaN; // a gap, at its own x
        } else {
          last = y[p];
        }
      }
      // curves that coincide stay visible: each its own dash, the first widest; the legend says
      // where each ends
      traces.add(
          ScatterTrace.builder(x, y)
              .mode(np > 60 ? ScatterTrace.Mode.LINE : ScatterTrace.Mode.LINE_AND_MARKERS)
              .line(
                  tech.tablesaw.plotly.components.Line.builder()
                      .dash(dashes[c % dashes.length])
                      .width(c == 0 ? 3 : 2)
                      .build())
              .name(curveName(e.getKey()) + " (last " + dev.qdebug.viz.Fmt.num(last) + ")")
              // the node names once (the first curve's hover): figures in notebooks stay small
              .text(c == 0 ? hover : new String[0])
              .showLegend(true)
              .build());
      c++;
    }
    String what =
        switch (prefix) {
          case "weight_activation_quantized_separately" -> "Weights or activations? ";
          case "weight_quantized" -> "Weights quantized: ";
          case "activation_quantized" -> "Activations quantized: ";
          default -> "";
        };
    String title =
        what
            + o.metric().label().replace('-', ' ')
            + " of every node's output with float, in graph order"
            + (o.averageMode() ? " (running mean)" : "");
    Figure fig =
        new dev.qdebug.viz.Plot(
                Figures.layout(
                    title,
                    "node index in graph order (node name on hover)",
                    o.metric().label() + " with float",
                    false),
                traces.toArray(Trace[]::new))
            .layout("x unified", "hovermode");
    return new Plot(prefix, stem, table, fig);
  }
}
