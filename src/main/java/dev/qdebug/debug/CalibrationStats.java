package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Tensors;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.TensorKind;
import dev.qdebug.viz.Html;
import dev.qdebug.viz.Json;
import dev.qdebug.viz.Traces;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;

/**
 * {@code get_calibration_nodes_stat_info} (Horizon's undocumented API, reference a.10): for every
 * calibration node its parameters beside the statistics of the data it quantizes, to spot
 * thresholds far below the true maximum (clipping) or a huge dynamic range (a case for int16). Per
 * channel (one value for a per-tensor node): {@code max-vals} = the largest {@code |x|}, {@code
 * min-nz-vals} = the smallest non-zero {@code |x|} (0 for a channel of zeros). Weights are measured
 * on their values; activations on the float model (every calibration node off) over the calibration
 * data.
 *
 * <p>Saved as {@code cali_nodes_stat_info.csv} (lists joined with {@code ;}) and {@code .json}
 * (keyed by node, as Horizon's dict), and {@code weight_stat_info.html} / {@code
 * feature_stat_info.html}: log-y curves of threshold, scale, max and min-non-zero against node
 * index. Deviation: Horizon plots the first element of each per-channel list (channel 0); these
 * figures plot the largest threshold, scale and max over channels and the smallest non-zero min,
 * which is the same for per-tensor nodes and does not hide the extreme channels.
 */
public final class CalibrationStats {

  /**
   * Options.
   *
   * @param nodes calibration-node names; empty for all
   * @param dataNum the first N samples for activations; 0 for all
   */
  public record Options(List<String> nodes, int dataNum) {
    public Options {
      nodes = List.copyOf(nodes);
    }

    /** Every node, every sample. */
    public static Options defaults() {
      return new Options(List.of(), 0);
    }

    public Options nodes(List<String> n) {
      return new Options(n, dataNum);
    }

    public Options dataNum(int n) {
      return new Options(nodes, n);
    }
  }

  /**
   * One node's parameters and statistics.
   *
   * @param granularity {@code per-tensor} or {@code per-channel}
   * @param axis the channel axis, -1 per tensor
   */
  public record NodeStats(
      String node,
      String tensor,
      String type,
      String granularity,
      String qtype,
      int axis,
      float[] thresholds,
      float[] scales,
      long[] zeroPoints,
      double[] maxVals,
      double[] minNzVals) {
    /** The largest threshold over channels. */
    public double maxThreshold() {
      return maxOf(toDouble(thresholds));
    }

    /** The largest scale over channels. */
    public double maxScale() {
      return maxOf(toDouble(scales));
    }

    /** The largest {@code |x|} over channels. */
    public double maxVal() {
      return maxOf(maxVals);
    }

    /** The smallest non-zero {@code |x|} over channels; NaN when every channel is all zeros. */
    public double minNonZero() {
      double m = Double.NaN;
      for (double v : minNzVals) {
        if (v > 0 && (Double.isNaN(m) || v < m)) {
          m = v;
        }
      }
      return m;
    }
  }

  /**
   * The statistics.
   *
   * @param table one row per node: {@code node, tensor, type, granularity, qtype, axis, thresholds,
   *     scales, zero-points, max-vals, min-nz-vals}
   * @param weights log-y curves over weight nodes
   * @param features log-y curves over activation nodes
   */
  public record Result(
      List<NodeStats> stats, Table table, Figure weights, Figure features, Options options)
      implements Report {
    /** The statistics of {@code node}. */
    public NodeStats of(String node) {
      return stats.stream()
          .filter(s -> s.node().equals(node))
          .findFirst()
          .orElseThrow(() -> new IllegalArgumentException("no node '" + node + "'"));
    }

    @Override
    public void save(Path dir) {
      Html.writeCsv(dir.resolve("cali_nodes_stat_info.csv"), table);
      Map<String, Object> json = new LinkedHashMap<>();
      for (NodeStats s : stats) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tensor", s.tensor());
        m.put("type", s.type());
        m.put("granularity", s.granularity());
        m.put("qtype", s.qtype());
        m.put("axis", s.axis());
        m.put("thresholds", s.thresholds());
        m.put("scales", s.scales());
        m.put("zero-points", s.zeroPoints());
        m.put("max-vals", s.maxVals());
        m.put("min-nz-vals", s.minNzVals());
        json.put(s.node(), m);
      }
      Json.write(dir.resolve("cali_nodes_stat_info.json"), json);
      Html.writeFigure(dir.resolve("weight_stat_info.html"), "weight stat info", weights, STAT_NOTE);
      Html.writeFigure(dir.resolve("feature_stat_info.html"), "feature stat info", features, STAT_NOTE);
    }
  }

  private static final String STAT_NOTE =
      "Per calibration node: a threshold far below the data's max |x| clips, one far above it"
          + " wastes levels; a scale near the smallest non-zero |x| rounds small values to zero.";

  private CalibrationStats() {}

  /** Per-channel max |x| and smallest non-zero |x|, accumulated over batches. */
  private static final class Extremes {
    final double[] max;
    final double[] minNz;

    Extremes(int channels) {
      max = new double[channels];
      minNz = new double[channels];
      java.util.Arrays.fill(minNz, Double.POSITIVE_INFINITY);
    }

    void add(INDArray x, int axis) {
      float[] v = Tensors.floats(x);
      float[][] ch = axis >= 0 ? Capture.channels(v, x.shape(), axis) : new float[][] {v};
      for (int c = 0; c < ch.length; c++) {
        for (float f : ch[c]) {
          double a = Math.abs(f);
          if (a > max[c]) {
            max[c] = a;
          }
          if (a > 0 && a < minNz[c]) {
            minNz[c] = a;
          }
        }
      }
    }

    double[] minNonZero() {
      double[] m = minNz.clone();
      for (int c = 0; c < m.length; c++) {
        if (m[c] == Double.POSITIVE_INFINITY) {
          m[c] = 0;
        }
      }
      return m;
    }
  }

  /** Collects the statistics of the nodes of {@code o}. */
  public static Result run(CalibratedModel model, SampleSet data, Options o, Progress progress) {
    List<CalibrationNode> nodes = new ArrayList<>();
    if (o.nodes().isEmpty()) {
      nodes.addAll(model.nodes());
    } else {
      for (String n : o.nodes()) {
        nodes.add(model.node(n));
      }
    }
    Map<String, Extremes> ext = new LinkedHashMap<>();
    Set<String> acts = new LinkedHashSet<>();
    for (CalibrationNode c : nodes) {
      ext.put(c.name(), new Extremes(c.params().channels()));
      if (c.kind() == TensorKind.WEIGHT) {
        ext.get(c.name()).add(model.session().plan().constant(c.tensor()), c.params().axis());
      } else {
        acts.add(c.tensor());
      }
    }
    if (!acts.isEmpty()) {
      int n = Capture.samples(data, o.dataNum());
      List<BatchPlan.Batch> plan =
          BatchPlan.of(model.session(), data, n, BatchPlan.FORWARD, "get-calibration-nodes-stat-info")
              .batches();
      int batches = plan.size();
      for (int b = 0; b < batches; b++) {
        Map<String, INDArray> got =
            model.run(
                data.batch(plan.get(b).samples()),
                List.of(),
                RunOptions.outputs(new ArrayList<>(acts)));
        for (CalibrationNode c : nodes) {
          if (c.kind() == TensorKind.ACTIVATION) {
            ext.get(c.name()).add(got.get(c.tensor()), c.params().axis());
          }
        }
        progress.update("get-calibration-nodes-stat-info", b + 1, batches);
      }
    }
    List<NodeStats> stats = new ArrayList<>();
    for (CalibrationNode c : nodes) {
      Extremes e = ext.get(c.name());
      stats.add(
          new NodeStats(
              c.name(),
              c.tensor(),
              c.kind().label(),
              c.params().perChannel() ? "per-channel" : "per-tensor",
              c.params().type().label(),
              c.params().axis(),
              c.thresholds(),
              c.params().scale().clone(),
              c.params().zeroPoint().clone(),
              e.max.clone(),
              e.minNonZero()));
    }
    return new Result(stats, table(stats), figure(stats, "weight"), figure(stats, "activation"), o);
  }

  private static Table table(List<NodeStats> stats) {
    StringColumn node = StringColumn.create("node");
    StringColumn tensor = StringColumn.create("tensor");
    StringColumn type = StringColumn.create("type");
    StringColumn gran = StringColumn.create("granularity");
    StringColumn qtype = StringColumn.create("qtype");
    IntColumn axis = IntColumn.create("axis");
    StringColumn thr = StringColumn.create("thresholds");
    StringColumn scales = StringColumn.create("scales");
    StringColumn zps = StringColumn.create("zero-points");
    StringColumn max = StringColumn.create("max-vals");
    StringColumn minNz = StringColumn.create("min-nz-vals");
    for (NodeStats s : stats) {
      node.append(s.node());
      tensor.append(s.tensor());
      type.append(s.type());
      gran.append(s.granularity());
      qtype.append(s.qtype());
      axis.append(s.axis());
      thr.append(join(toDouble(s.thresholds())));
      scales.append(join(toDouble(s.scales())));
      zps.append(
          java.util.Arrays.stream(s.zeroPoints())
              .mapToObj(Long::toString)
              .collect(Collectors.joining(";")));
      max.append(join(s.maxVals()));
      minNz.append(join(s.minNzVals()));
    }
    return Table.create(
        "calibration nodes stat info",
        node,
        tensor,
        type,
        gran,
        qtype,
        axis,
        thr,
        scales,
        zps,
        max,
        minNz);
  }

  private static double[] toDouble(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  private static String join(double[] v) {
    return java.util.Arrays.stream(v)
        .mapToObj(d -> String.format(Locale.ROOT, "%.9g", d))
        .collect(Collectors.joining(";"));
  }

  private static Figure figure(List<NodeStats> stats, String type) {
    List<NodeStats> of = stats.stream().filter(s -> s.type().equals(type)).toList();
    int n = of.size();
    double[] x = new double[n];
    String[] text = new String[n];
    double[] thr = new double[n];
    double[] scale = new double[n];
    double[] max = new double[n];
    double[] minNz = new double[n];
    for (int i = 0; i < n; i++) {
      NodeStats s = of.get(i);
      x[i] = i;
      text[i] = s.node();
      thr[i] = s.maxThreshold();
      scale[i] = s.maxScale();
      max[i] = s.maxVal();
      minNz[i] = s.minNonZero();
    }
    String kind = type.equals("weight") ? "weight" : "feature";
    return new dev.qdebug.viz.Plot(
        Traces.layout(
            (kind.equals("weight") ? "Weight" : "Activation")
                + " calibration nodes: threshold and scale against the data's largest and smallest"
                + " non-zero |x|",
            "calibration node index (name on hover)",
            "value (log scale; max over channels)",
            true,
            false,
            900),
        Traces.line("threshold", x, thr, text),
        Traces.line("scale", x, scale, text),
        Traces.line("max |x|", x, max, text),
        Traces.line("min non-zero |x|", x, minNz, text));
  }

  private static double maxOf(double[] v) {
    double m = Double.NaN;
    for (double d : v) {
      if (Double.isNaN(m) || d > m) {
        m = d;
      }
    }
    return m;
  }
}
