package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.Plan;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Snapshot;
import dev.qdebug.engine.Tensors;
import dev.qdebug.metrics.Metric;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.FakeQuant;
import dev.qdebug.quant.QParams;
import dev.qdebug.quant.TensorKind;
import dev.qdebug.viz.Figures;
import dev.qdebug.viz.Html;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;
import tech.tablesaw.plotly.traces.Trace;

/**
 * {@code layer-error} (beyond Horizon): the <b>local</b> and the <b>accumulated</b> error of every
 * calibration node side by side, as RKNN's "single"/"entire" columns and ONNX Runtime's {@code
 * qdq_err}/{@code xmodel_err} do. For the node's tensor {@code t} and the outputs of the nodes that
 * consume it:
 *
 * <ul>
 *   <li>{@code local-*}: {@code t} from the float model against {@code t} fake-quantized alone (the
 *       node's own rounding and clipping);
 *   <li>{@code local-output-*}: the consumers' outputs with only this node on, against float;
 *   <li>{@code accumulated-*}: {@code t} as the calibrated model (every node as switched on)
 *       computes and quantizes it, against float: its own error plus everything upstream;
 *   <li>{@code accumulated-output-*}: the consumers' outputs in the calibrated model (before their
 *       own calibration node), against float.
 * </ul>
 *
 * Each comparison has Horizon's five metrics (its "sqnr" is {@code 10 log10(|a|/|a-b|)}), the
 * standard SQNR in dB {@code sqnr-db = 20 log10(|a| / |a - b|)}, and TensorFlow Lite's {@code
 * rmse/scale}: the root mean square of the error measured in quantization steps of the tensor (each
 * element's error divided by its channel's scale; about {@code 1/sqrt(12) = 0.289} for pure
 * rounding, larger with clipping or upstream error). For outputs the scale is the output tensor's
 * own calibration node's, NaN when it has none. Activations are scored per sample, NaN samples
 * dropped, then averaged (as Horizon averages); a weight once.
 */
public final class LayerError {
  /** {@code sqnr-db}: the standard SQNR in dB. */
  public static final String SQNR_DB = "sqnr-db";

  /** {@code rmse/scale}: RMSE of the error in quantization steps. */
  public static final String RMSE_SCALE = "rmse/scale";

  /** The four comparisons, as column prefixes. */
  public static final List<String> SCOPES =
      List.of("local", "local-output", "accumulated", "accumulated-output");

  /** The measures of each comparison, as column suffixes. */
  public static final List<String> MEASURES =
      List.of(
          Metric.COSINE_SIMILARITY.label(),
          Metric.MSE.label(),
          Metric.MRE.label(),
          Metric.SQNR.label(),
          Metric.CHEBYSHEV.label(),
          SQNR_DB,
          RMSE_SCALE);

  /**
   * Options.
   *
   * @param nodes calibration-node names; empty for all
   * @param metric the measure drawn in the main figure (any of {@link #MEASURES})
   * @param dataNum the first N samples; 0 for all
   */
  public record Options(List<String> nodes, String metric, int dataNum) {
    public Options {
      nodes = List.copyOf(nodes);
      if (!MEASURES.contains(metric)) {
        throw new UsageException("--metric: '" + metric + "' is not one of " + MEASURES);
      }
    }

    /** Every node, cosine similarity, the first sample. */
    public static Options defaults() {
      return new Options(List.of(), Metric.COSINE_SIMILARITY.label(), 1);
    }

    public Options nodes(List<String> n) {
      return new Options(n, metric, dataNum);
    }

    public Options metric(String m) {
      return new Options(nodes, m, dataNum);
    }

    public Options dataNum(int n) {
      return new Options(nodes, metric, n);
    }
  }

  /**
   * The errors.
   *
   * @param table one row per calibration node in graph order: {@code node, tensor, type,
   *     consumers}, then {@code <scope>-<measure>} for each of {@link #SCOPES} and {@link
   *     #MEASURES}
   * @param figure {@code options.metric()} per node: accumulated as lines, local as markers
   * @param rmseScale {@code rmse/scale} per node with the {@code 1/sqrt(12)} reference
   */
  public record Result(Table table, Figure figure, Figure rmseScale, Options options)
      implements Report {
    /** The value of {@code <scope>-<measure>} for {@code node}. */
    public double value(String node, String scope, String measure) {
      int row = table.stringColumn("node").asList().indexOf(node);
      if (row < 0) {
        throw new IllegalArgumentException("no node '" + node + "'");
      }
      return table.doubleColumn(scope + "-" + measure).getDouble(row);
    }

    @Override
    public void save(Path dir) {
      Html.writeCsv(dir.resolve("layer_error.csv"), table);
      Html.writeFigure(dir.resolve("layer_error.html"), "layer error", figure,
          "Local error: the node quantized alone on float inputs; accumulated: everything up to it"
              + " quantized. A node whose local error is large is a cause; a large accumulated error"
              + " with a small local one is inherited.");
      Html.writeFigure(
          dir.resolve("layer_error_rmse_scale.html"), "layer error rmse/scale", rmseScale,
          "The error in units of the quantization step: 0.289 (1/sqrt(12)) is rounding alone;"
              + " much more means clipping or error carried from earlier layers.");
    }
  }

  private LayerError() {}

  /** Per node, scope and measure: the per-sample values so far. */
  private record Acc(List<List<List<Double>>> v) {
    static Acc create() {
      List<List<List<Double>>> s = new ArrayList<>();
      for (int i = 0; i < SCOPES.size(); i++) {
        List<List<Double>> m = new ArrayList<>();
        for (int j = 0; j < MEASURES.size(); j++) {
          m.add(new ArrayList<>());
        }
        s.add(m);
      }
      return new Acc(s);
    }

    void add(int scope, double[] measures) {
      for (int j = 0; j < measures.length; j++) {
        v.get(scope).get(j).add(measures[j]);
      }
    }

    double mean(int scope, int measure) {
      return Stats.nanMean(
          v.get(scope).get(measure).stream().mapToDouble(Double::doubleValue).toArray());
    }
  }

  /** The nodes reading {@code tensor}, in graph order. */
  static List<String> consumers(CalibratedModel model, String tensor) {
    List<String> out = new ArrayList<>();
    for (Plan.Step s : model.session().plan().steps()) {
      if (s.node().inputs().contains(tensor)) {
        out.add(s.node().name());
      }
    }
    return out;
  }

  /** Measures the nodes of {@code o}. */
  public static Result run(CalibratedModel model, SampleSet data, Options o, Progress progress) {
    List<CalibrationNode> nodes = new ArrayList<>();
    if (o.nodes().isEmpty()) {
      nodes.addAll(model.nodes());
    } else {
      for (String name : o.nodes()) {
        nodes.add(model.node(name));
      }
    }
    int n = Capture.samples(data, o.dataNum());
    Map<String, List<String>> consumerNodes = new LinkedHashMap<>();
    Map<String, List<String>> consumerOuts = new LinkedHashMap<>();
    Set<String> kept = new LinkedHashSet<>();
    for (CalibrationNode c : nodes) {
      List<String> cons = consumers(model, c.tensor());
      List<String> outs = new ArrayList<>();
      for (String cn : cons) {
        for (String out : model.floatModel().node(cn).outputs()) {
          if (!out.isEmpty() && !outs.contains(out)) {
            outs.add(out);
          }
        }
      }
      consumerNodes.put(c.name(), cons);
      consumerOuts.put(c.name(), outs);
      kept.add(c.tensor());
      kept.addAll(outs);
    }
    Map<String, Acc> acc = new LinkedHashMap<>();
    nodes.forEach(c -> acc.put(c.name(), Acc.create()));
    Set<String> enabled = model.enabled();
    // the snapshot, a full quantized run captured before and after its nodes, and the reruns
    Workers.Sweep sweep = Workers.Sweep.of(model.session(), data, n, BatchPlan.SWEEP + 2, "layer-error");
    List<BatchPlan.Batch> batches = sweep.batches();
    long total = (long) batches.size() * nodes.size();
    for (int b = 0; b < batches.size(); b++) {
      BatchPlan.Batch batch = batches.get(b);
      int count = batch.size();
      boolean firstBatch = b == 0;
      Map<String, INDArray> in = data.batch(batch.samples());
      Snapshot base = model.floatSnapshot(in, nodes.stream().map(c -> List.of(c.name())).toList(), kept);
      Capture.Values full = Capture.run(model, in, enabled, kept);
      long start = (long) b * nodes.size();
      // nodes on both cores for a small model: each node's measures its own, samples in order
      sweep.run(
          nodes.size(),
          i -> {
            CalibrationNode c = nodes.get(i);
            Acc a = acc.get(c.name());
            INDArray t = base.get(c.tensor());
            boolean weight = c.kind() == TensorKind.WEIGHT;
            int per = weight ? 1 : count;
            if (!weight || firstBatch) {
              INDArray local = FakeQuant.apply(t, c.params());
              addPerSample(a, 0, t, local, per, Optional.of(c.params()));
              addPerSample(a, 2, t, full.after().get(c.tensor()), per, Optional.of(c.params()));
            }
            List<String> outs = consumerOuts.get(c.name());
            if (!outs.isEmpty()) {
              Map<String, INDArray> only =
                  model.rerun(base, List.of(c.name()), RunOptions.outputs(outs));
              addOutputs(model, a, 1, base, only, outs, count);
              addOutputs(model, a, 3, base, full.before(), outs, count);
            }
          },
          finished -> progress.update("layer-error", start + finished, total));
      base.close(); // its tensors' memory now, not when the garbage collector runs
    }
    return tabulate(nodes, consumerNodes, acc, o);
  }

  /**
   * Scores {@code a} vs {@code b} per sample (or whole, for {@code per == 1}) into {@code scope}.
   */
  private static void addPerSample(
      Acc acc, int scope, INDArray a, INDArray b, int per, Optional<QParams> p) {
    float[] x = Tensors.floats(a);
    float[] y = Tensors.floats(b);
    int len = x.length / per;
    for (int s = 0; s < per; s++) {
      acc.add(scope, measures(x, y, s * len, len, a.shape(), p));
    }
  }

  /** Per sample, the mean over output tensors (NaN dropped) of each measure. */
  private static void addOutputs(
      CalibratedModel model,
      Acc acc,
      int scope,
      Snapshot base,
      Map<String, INDArray> got,
      List<String> outs,
      int count) {
    double[][][] m = new double[outs.size()][][];
    for (int k = 0; k < outs.size(); k++) {
      String out = outs.get(k);
      INDArray f = base.get(out);
      float[] x = Tensors.floats(f);
      float[] y = Tensors.floats(got.get(out));
      Optional<QParams> p = model.nodeOfTensor(out).map(CalibrationNode::params);
      int per = x.length % count == 0 && f.rank() > 0 && f.size(0) == count ? count : 1;
      int len = x.length / per;
      m[k] = new double[count][];
      for (int s = 0; s < count; s++) {
        m[k][s] = measures(x, y, (s % per) * len, len, f.shape(), p);
      }
    }
    for (int s = 0; s < count; s++) {
      double[] mean = new double[MEASURES.size()];
      for (int j = 0; j < mean.length; j++) {
        double sum = 0;
        int valid = 0;
        for (int k = 0; k < outs.size(); k++) {
          double v = m[k][s][j];
          if (!Double.isNaN(v)) {
            sum += v;
            valid++;
          }
        }
        mean[j] = valid == 0 ? Double.NaN : sum / valid;
      }
      acc.add(scope, mean);
    }
  }

  /**
   * Every measure of {@code b[from..from+len)} against {@code a[from..from+len)}, where the arrays
   * are row-major tensors of {@code shape} (for the channel of each element).
   */
  static double[] measures(
      float[] a, float[] b, int from, int len, long[] shape, Optional<QParams> p) {
    float[] x = java.util.Arrays.copyOfRange(a, from, from + len);
    float[] y = java.util.Arrays.copyOfRange(b, from, from + len);
    double[] out = new double[MEASURES.size()];
    out[0] = Metric.COSINE_SIMILARITY.compute(x, y);
    out[1] = Metric.MSE.compute(x, y);
    out[2] = Metric.MRE.compute(x, y);
    out[3] = Metric.SQNR.compute(x, y);
    out[4] = Metric.CHEBYSHEV.compute(x, y);
    out[5] = sqnrDb(x, y);
    out[6] = p.map(q -> rmseOverScale(a, b, from, len, shape, q)).orElse(Double.NaN);
    return out;
  }

  /** {@code 20 log10(|a| / |a - b|)}: +inf when equal, NaN when both norms are 0. */
  public static double sqnrDb(float[] a, float[] b) {
    double na = 0;
    double nd = 0;
    for (int i = 0; i < a.length; i++) {
      na += (double) a[i] * a[i];
      double d = (double) a[i] - b[i];
      nd += d * d;
    }
    return 20 * Math.log10(Math.sqrt(na) / Math.sqrt(nd));
  }

  /**
   * {@code sqrt(mean(((a - b) / scale)^2))} over {@code [from, from+len)}, each element divided by
   * the scale of its channel.
   */
  static double rmseOverScale(float[] a, float[] b, int from, int len, long[] shape, QParams p) {
    int inner = 1;
    int channels = 1;
    if (p.perChannel() && p.axis() < shape.length && shape[p.axis()] == p.channels()) {
      channels = p.channels();
      for (int d = p.axis() + 1; d < shape.length; d++) {
        inner *= (int) shape[d];
      }
    }
    double s = 0;
    for (int i = from; i < from + len; i++) {
      int c = channels == 1 ? 0 : (i / inner) % channels;
      double e = ((double) a[i] - b[i]) / p.scale()[c];
      s += e * e;
    }
    return len == 0 ? Double.NaN : Math.sqrt(s / len);
  }

  private static Result tabulate(
      List<CalibrationNode> nodes,
      Map<String, List<String>> consumers,
      Map<String, Acc> acc,
      Options o) {
    StringColumn node = StringColumn.create("node");
    StringColumn tensor = StringColumn.create("tensor");
    StringColumn type = StringColumn.create("type");
    StringColumn cons = StringColumn.create("consumers");
    List<DoubleColumn> cols = new ArrayList<>();
    for (String s : SCOPES) {
      for (String m : MEASURES) {
        cols.add(DoubleColumn.create(s + "-" + m));
      }
    }
    for (CalibrationNode c : nodes) {
      node.append(c.name());
      tensor.append(c.tensor());
      type.append(c.kind().label());
      cons.append(String.join(";", consumers.get(c.name())));
      Acc a = acc.get(c.name());
      for (int s = 0; s < SCOPES.size(); s++) {
        for (int m = 0; m < MEASURES.size(); m++) {
          cols.get(s * MEASURES.size() + m).append(a.mean(s, m));
        }
      }
    }
    Table table = Table.create("layer error", node, tensor, type, cons);
    cols.forEach(table::addColumns);
    String[] x = node.asObjectArray();
    Figure fig = figure(table, x, o.metric(), "Local vs accumulated error (" + o.metric() + ")");
    Figure rs =
        figure(
            table,
            x,
            RMSE_SCALE,
            "Error in quantization steps (rmse/scale; 0.289 = rounding alone)");
    List<Trace> traces = new ArrayList<>(List.of(rs.getTraces()));
    traces.add(Figures.reference("1/sqrt(12)", x, 1 / Math.sqrt(12)));
    rs.setTraces(traces.toArray(Trace[]::new));
    return new Result(table, fig, rs, o);
  }

  private static Figure figure(Table t, String[] x, String measure, String title) {
    Map<String, double[]> lines = new LinkedHashMap<>();
    lines.put("accumulated (tensor)", t.doubleColumn("accumulated-" + measure).asDoubleArray());
    lines.put(
        "accumulated (consumer output)",
        t.doubleColumn("accumulated-output-" + measure).asDoubleArray());
    Map<String, double[]> markers = new LinkedHashMap<>();
    markers.put("local (tensor)", t.doubleColumn("local-" + measure).asDoubleArray());
    markers.put(
        "local (consumer output)", t.doubleColumn("local-output-" + measure).asDoubleArray());
    return Figures.categoryLines(title, "calibration node", measure, x, lines, markers);
  }
}
