package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.Tensors;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.QuantRule;
import dev.qdebug.quant.TensorKind;
import dev.qdebug.viz.Html;
import dev.qdebug.viz.Traces;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;

/**
 * {@code get_channelwise_data_distribution}: one box per channel of a calibration node's tensor
 * (Horizon's semantics, reference a.8), to find channels whose ranges differ widely (candidates for
 * per-channel quantization or int16). A weight node shows its float weight; an activation node its
 * input tensor in the calibrated model (upstream calibration nodes as switched on). The channel
 * axis defaults to the weight node's quantization axis (for a per-tensor weight, the axis
 * calibration would use per channel: Conv 0, ConvTranspose 1, ...) and to 1 (NCHW) for activations.
 * Boxes as matplotlib draws them ({@link BoxStats}): median, quartiles, whiskers at 1.5 IQR, the
 * mean as a dashed line, outliers as red dots.
 *
 * <p>Deviations from Horizon: channels are the indices of the axis as ONNX defines per-channel
 * quantization; Horizon regroups an axis-1 (ConvTranspose) weight by the consumer's {@code group}.
 * At most {@value #OUTLIERS_DRAWN} outliers per channel are drawn (the most extreme; the CSV gives
 * the count), so that pages of large tensors stay small. Only calibration nodes are accepted, as
 * Horizon documents.
 */
public final class ChannelwiseDistribution {
  static final int OUTLIERS_DRAWN = 200;

  /**
   * Options.
   *
   * @param nodes calibration-node names (required)
   * @param axis the channel axis (negative counts from the end); null for the default
   * @param dataNum samples pooled for activations (Horizon: 1); 0 for all
   */
  public record Options(List<String> nodes, Integer axis, int dataNum) {
    public Options {
      nodes = List.copyOf(nodes);
    }

    /** No nodes yet, the default axis, one sample. */
    public static Options defaults() {
      return new Options(List.of(), null, 1);
    }

    public Options nodes(List<String> n) {
      return new Options(n, axis, dataNum);
    }

    public Options axis(Integer a) {
      return new Options(nodes, a, dataNum);
    }

    public Options dataNum(int n) {
      return new Options(nodes, axis, n);
    }
  }

  /**
   * One node's boxes.
   *
   * @param file {@code <node>_boxplot} ({@code /} as {@code _})
   * @param stats per channel: {@code channel, count, min, q1, median, mean, q3, max, lower-whisker,
   *     upper-whisker, outliers}
   */
  public record Boxes(
      String node, String tensor, String kind, int axis, String file, Table stats, Figure figure) {}

  /** Every node's boxes, in the order asked for. */
  public record Result(List<Boxes> boxes, Options options) implements Report {
    /** The boxes of {@code node}. */
    public Boxes of(String node) {
      return boxes.stream()
          .filter(b -> b.node().equals(node))
          .findFirst()
          .orElseThrow(() -> new IllegalArgumentException("no node '" + node + "'"));
    }

    @Override
    public void save(Path dir) {
      dev.qdebug.SafeNames.Unique files = new dev.qdebug.SafeNames.Unique();
      for (Boxes b : boxes) {
        String f = files.next(b.file()); // two names may make one file name: keep both
        Html.writeCsv(dir.resolve(f + ".csv"), b.stats());
        Html.writeFigure(dir.resolve(f + ".html"), b.file(), b.figure(),
            "One box per channel: when a few channels reach much further than the rest, one scale for"
                + " the tensor leaves the narrow channels only a few quantization levels.");
      }
    }
  }

  private ChannelwiseDistribution() {}

  /** The default channel axis of {@code c}. */
  static int defaultAxis(CalibratedModel model, CalibrationNode c, int rank) {
    if (c.kind() == TensorKind.ACTIVATION) {
      return rank >= 2 ? 1 : 0;
    }
    if (c.params().perChannel()) {
      return c.params().axis();
    }
    QuantRule.Target t = QuantRule.select(model.session().plan()).get(c.tensor());
    return t != null && t.axis() >= 0 && t.axis() < rank ? t.axis() : 0;
  }

  /** Box plots of the nodes of {@code o}. */
  public static Result run(CalibratedModel model, SampleSet data, Options o, Progress progress) {
    if (o.nodes().isEmpty()) {
      throw new UsageException("--nodes: give at least one calibration node");
    }
    List<CalibrationNode> nodes = new ArrayList<>();
    for (String name : o.nodes()) {
      nodes.add(model.node(name));
    }
    Set<String> acts = new LinkedHashSet<>();
    for (CalibrationNode c : nodes) {
      if (c.kind() == TensorKind.ACTIVATION) {
        acts.add(c.tensor());
      }
    }
    // per activation tensor, per batch: values and shape
    Map<String, List<INDArray>> values = new java.util.HashMap<>();
    if (!acts.isEmpty()) {
      int n = Capture.samples(data, o.dataNum());
      List<BatchPlan.Batch> plan =
          BatchPlan.of(model.session(), data, n, BatchPlan.FORWARD, "get-channelwise-data-distribution")
              .batches();
      int batches = plan.size();
      for (int b = 0; b < batches; b++) {
        Map<String, INDArray> in = data.batch(plan.get(b).samples());
        Capture.Values v = Capture.run(model, in, model.enabled(), acts);
        for (String t : acts) {
          values.computeIfAbsent(t, x -> new ArrayList<>()).add(v.before().get(t));
        }
        progress.update("get-channelwise-data-distribution", b + 1, batches);
      }
    }
    List<Boxes> out = new ArrayList<>();
    for (CalibrationNode c : nodes) {
      List<INDArray> parts =
          c.kind() == TensorKind.WEIGHT
              ? List.of(model.session().plan().constant(c.tensor()))
              : values.get(c.tensor());
      int rank = parts.get(0).rank();
      int axis = o.axis() == null ? defaultAxis(model, c, rank) : o.axis();
      if (axis < 0) {
        axis += rank;
      }
      if (axis < 0 || axis >= rank) {
        throw new UsageException(
            "--axis: "
                + o.axis()
                + " is out of range for tensor '"
                + c.tensor()
                + "' of rank "
                + rank);
      }
      int ch = (int) parts.get(0).size(axis);
      List<List<float[]>> perChannel = new ArrayList<>();
      for (int k = 0; k < ch; k++) {
        perChannel.add(new ArrayList<>());
      }
      for (INDArray p : parts) {
        float[][] split = Capture.channels(Tensors.floats(p), p.shape(), axis);
        for (int k = 0; k < ch; k++) {
          perChannel.get(k).add(split[k]);
        }
      }
      BoxStats[] stats = new BoxStats[ch];
      for (int k = 0; k < ch; k++) {
        stats[k] = BoxStats.of(Capture.concat(perChannel.get(k)), OUTLIERS_DRAWN);
      }
      String file = Capture.fileName(c.name()) + "_boxplot";
      out.add(
          new Boxes(
              c.name(),
              c.tensor(),
              c.kind().label(),
              axis,
              file,
              table(file, stats),
              figure(c, axis, stats)));
    }
    return new Result(out, o);
  }

  private static Table table(String name, BoxStats[] s) {
    IntColumn channel = IntColumn.create("channel");
    IntColumn count = IntColumn.create("count");
    DoubleColumn min = DoubleColumn.create("min");
    DoubleColumn q1 = DoubleColumn.create("q1");
    DoubleColumn median = DoubleColumn.create("median");
    DoubleColumn mean = DoubleColumn.create("mean");
    DoubleColumn q3 = DoubleColumn.create("q3");
    DoubleColumn max = DoubleColumn.create("max");
    DoubleColumn lw = DoubleColumn.create("lower-whisker");
    DoubleColumn uw = DoubleColumn.create("upper-whisker");
    IntColumn outliers = IntColumn.create("outliers");
    for (int k = 0; k < s.length; k++) {
      channel.append(k);
      count.append(s[k].count());
      min.append(s[k].min());
      q1.append(s[k].q1());
      median.append(s[k].median());
      mean.append(s[k].mean());
      q3.append(s[k].q3());
      max.append(s[k].max());
      lw.append(s[k].lowerWhisker());
      uw.append(s[k].upperWhisker());
      outliers.append(s[k].outlierCount());
    }
    return Table.create(name, channel, count, min, q1, median, mean, q3, max, lw, uw, outliers);
  }

  private static Figure figure(CalibrationNode c, int axis, BoxStats[] s) {
    int ch = s.length;
    double[] x = new double[ch];
    double[] q1 = new double[ch];
    double[] med = new double[ch];
    double[] q3 = new double[ch];
    double[] lo = new double[ch];
    double[] hi = new double[ch];
    double[] mean = new double[ch];
    List<Double> ox = new ArrayList<>();
    List<Double> oy = new ArrayList<>();
    for (int k = 0; k < ch; k++) {
      x[k] = k;
      q1[k] = s[k].q1();
      med[k] = s[k].median();
      q3[k] = s[k].q3();
      lo[k] = s[k].lowerWhisker();
      hi[k] = s[k].upperWhisker();
      mean[k] = s[k].mean();
      for (double v : s[k].outliers()) {
        ox.add((double) k);
        oy.add(v);
      }
    }
    // a notebook column wide: many channels make narrow boxes (zoom to read them)
    int width = dev.qdebug.viz.PlotlyJson.MAX_WIDTH;
    return new dev.qdebug.viz.Plot(
        Traces.layout(
            "Range of each channel of "
                + dev.qdebug.viz.PlotlyJson.shorten(c.tensor())
                + " ("
                + c.kind().label()
                + "s, "
                + ch
                + " channels on axis "
                + axis
                + ")",
            "channel",
            "values in the channel (box: quartiles; whiskers: 1.5 IQR)",
            false,
            false,
            width),
        Traces.boxes("channels (mean dashed)", x, q1, med, q3, lo, hi, mean, "#1f77b4"),
        Traces.points(
            "outliers",
            ox.stream().mapToDouble(Double::doubleValue).toArray(),
            oy.stream().mapToDouble(Double::doubleValue).toArray(),
            "circle",
            "red",
            4));
  }
}
