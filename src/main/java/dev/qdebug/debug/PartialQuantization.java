package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.SampleSet;
import dev.qdebug.metrics.Metric;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.viz.Html;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
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

/**
 * {@code sensitivity_analysis}: the partial-quantization curve (Horizon's semantics, reference
 * a.9). The sensitive nodes are those whose {@link NodeSensitivity} output cosine similarity is at
 * most {@code pickThreshold}, most sensitive first (or the nodes given). Over x = {@code none}, n0,
 * n1, ...:
 *
 * <ul>
 *   <li>the red line ({@code partial quantization cumulative error}): the output cosine similarity
 *       of the calibrated model with nodes n0..ni all left in float ({@code none}: the calibrated
 *       model);
 *   <li>the green crosses ({@code per-node quantization sensitivity}): the output cosine similarity
 *       of the float model with only node ni quantized;
 *   <li>a dashed baseline at 1.0.
 * </ul>
 *
 * Cosine similarity of the graph outputs, per output tensor averaged over the first {@code dataNum}
 * samples, then over output tensors. It answers "how many of the most sensitive nodes must stay
 * float to reach cosine X"; {@link AutoPartialQuantization} searches that number automatically,
 * also against accuracy.
 *
 * <p>Beyond Horizon: the numbers as CSV (Horizon writes only the picture), and speed: the float
 * model runs once per batch and each variant re-runs only the graph downstream of its calibration
 * nodes.
 */
public final class PartialQuantization {
  /** The x label of the calibrated model. */
  public static final String NONE = "none";

  /**
   * Options.
   *
   * @param pickThreshold sensitive nodes are those with output cosine similarity at most this
   * @param dataNum the first N samples (0: all), for the sensitivities and the curve
   * @param sensitiveNodes the nodes to analyse, in this order; null to pick them by sensitivity
   */
  public record Options(double pickThreshold, int dataNum, List<String> sensitiveNodes) {
    public Options {
      if (sensitiveNodes != null) {
        sensitiveNodes = List.copyOf(sensitiveNodes);
      }
    }

    /** Horizon's defaults: threshold 0.999, the first sample, nodes picked by sensitivity. */
    public static Options defaults() {
      return new Options(0.999, 1, null);
    }

    public Options pickThreshold(double t) {
      return new Options(t, dataNum, sensitiveNodes);
    }

    public Options dataNum(int n) {
      return new Options(pickThreshold, n, sensitiveNodes);
    }

    public Options sensitiveNodes(List<String> nodes) {
      return new Options(pickThreshold, dataNum, nodes);
    }
  }

  /**
   * The curve.
   *
   * @param table {@code node} ({@code none}, n0, n1, ...), {@code float-nodes} (how many nodes are
   *     left in float), {@code partial-quantization-cosine-similarity} (red line), {@code
   *     node-alone-cosine-similarity} (green crosses; NaN for {@code none})
   * @param figure Horizon's figure
   * @param sensitiveNodes n0, n1, ...
   */
  public record Result(Table table, Figure figure, List<String> sensitiveNodes, Options options)
      implements Report {
    /** The red line: the calibrated model, then with n0..ni left in float. */
    public double[] partialQuantization() {
      return table.doubleColumn("partial-quantization-cosine-similarity").asDoubleArray();
    }

    /** The green crosses: node i alone quantized (index 0, {@code none}, is NaN). */
    public double[] nodeAlone() {
      return table.doubleColumn("node-alone-cosine-similarity").asDoubleArray();
    }

    /** Writes {@code partial_quantization.html} and {@code partial_quantization.csv}. */
    @Override
    public void save(Path dir) {
      Html.writeCsv(dir.resolve("partial_quantization.csv"), table);
      Html.writeFigure(dir.resolve("partial_quantization.html"), "partial quantization", figure,
          "The output cosine similarity as the most sensitive nodes go back to float one by one (line),"
              + " and each node quantized alone (crosses).");
    }
  }

  private PartialQuantization() {}

  /** The sensitive nodes {@code o} selects, most sensitive first. */
  static List<String> sensitiveNodes(
      CalibratedModel model, SampleSet data, Options o, Progress progress) {
    if (o.sensitiveNodes() != null) {
      for (String n : o.sensitiveNodes()) {
        PartialModels.calibrationsOf(model, List.of(n), "--sensitive-nodes");
      }
      return o.sensitiveNodes();
    }
    NodeSensitivity.Result s =
        NodeSensitivity.run(
            model, data, NodeSensitivity.Options.defaults().dataNum(o.dataNum()), progress);
    List<String> picked = new ArrayList<>();
    for (String n : s.ranking()) {
      if (s.score(n, Metric.COSINE_SIMILARITY) <= o.pickThreshold()) {
        picked.add(n);
      }
    }
    return picked;
  }

  /** Draws the partial-quantization curve of {@code o}. */
  public static Result run(CalibratedModel model, SampleSet data, Options o, Progress progress) {
    if (!(o.pickThreshold() >= -1 && o.pickThreshold() <= 1)) {
      throw new UsageException("--pick-threshold: " + o.pickThreshold() + " is not in [-1, 1]");
    }
    int n = PartialModels.sampleCount(data, o.dataNum());
    List<String> nodes = sensitiveNodes(model, data, o, progress);
    // variants: the calibrated model, then per node: node alone, nodes 0..i in float
    List<Set<String>> variants = new ArrayList<>();
    variants.add(model.enabled());
    Set<String> floatCal = new LinkedHashSet<>();
    for (String node : nodes) {
      Set<String> cal = PartialModels.calibrationsOf(model, List.of(node), "--sensitive-nodes");
      variants.add(PartialModels.whitelist(cal));
      floatCal.addAll(cal);
      variants.add(PartialModels.blacklist(model, floatCal));
    }
    double[] cos =
        PartialModels.outputCosines(model, data, n, variants, progress, "sensitivity-analysis");
    StringColumn x = StringColumn.create("node");
    IntColumn count = IntColumn.create("float-nodes");
    DoubleColumn red = DoubleColumn.create("partial-quantization-cosine-similarity");
    DoubleColumn green = DoubleColumn.create("node-alone-cosine-similarity");
    x.append(NONE);
    count.append(0);
    red.append(cos[0]);
    green.append(Double.NaN);
    for (int i = 0; i < nodes.size(); i++) {
      x.append(nodes.get(i));
      count.append(i + 1);
      green.append(cos[1 + 2 * i]);
      red.append(cos[2 + 2 * i]);
    }
    Table table = Table.create("partial quantization", x, count, red, green);
    return new Result(
        table, figure(x.asObjectArray(), red.asDoubleArray(), green.asDoubleArray()), nodes, o);
  }

  static Figure figure(String[] x, double[] red, double[] green) {
    Layout layout =
        Layout.builder(
                "Partial quantization analysis: output cosine as the top nodes go back to float")
            .xAxis(
                Axis.builder()
                    .title("nodes left in float (cumulative, most sensitive first)")
                    .type(Axis.Type.CATEGORY)
                    .build())
            .yAxis(Axis.builder().title("output cosine similarity with float").build())
            .showLegend(true)
            .height(560)
            .width(900)
            .build();
    StringColumn cx = StringColumn.create("x", x);
    ScatterTrace baseline =
        ScatterTrace.builder(cx, DoubleColumn.create("y", constant(x.length, 1.0)))
            .mode(ScatterTrace.Mode.LINE)
            .line(Line.builder().dash(Line.Dash.DASH).color("blue").build())
            .name("float (1.0)")
            .showLegend(true)
            .build();
    ScatterTrace line =
        ScatterTrace.builder(cx, DoubleColumn.create("y", red))
            .mode(ScatterTrace.Mode.LINE_AND_MARKERS)
            .line(Line.builder().color("red").build())
            .marker(Marker.builder().color("red").build())
            .name("top nodes up to this one in float")
            .showLegend(true)
            .build();
    ScatterTrace crosses =
        ScatterTrace.builder(cx, DoubleColumn.create("y", green))
            .mode(ScatterTrace.Mode.MARKERS)
            .marker(Marker.builder().symbol(Symbol.X).size(10).color("green").build())
            .name("this node quantized alone")
            .showLegend(true)
            .build();
    return new dev.qdebug.viz.Plot(layout, baseline, line, crosses);
  }

  private static double[] constant(int n, double v) {
    double[] a = new double[n];
    java.util.Arrays.fill(a, v);
    return a;
  }
}
