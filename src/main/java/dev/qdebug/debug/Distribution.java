package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Tensors;
import dev.qdebug.metrics.Metric;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.FakeQuant;
import dev.qdebug.quant.TensorKind;
import dev.qdebug.viz.Html;
import dev.qdebug.viz.Traces;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.LongColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;
import tech.tablesaw.plotly.traces.Trace;

/**
 * {@code plot_distribution}: histograms of the data at chosen nodes (Horizon's semantics, reference
 * a.7), one figure per plot, each also as numbers (CSV). The kind of each name is decided in
 * Horizon's order:
 *
 * <ul>
 *   <li>an <b>activation calibration node</b>: its input tensor in the calibrated model (every
 *       calibration node upstream as switched on), one histogram, a red dashed line at {@code
 *       max(thresholds)}; file {@code activation_<node>};
 *   <li>a <b>weight calibration node</b>: the float weight and the fake-quantized weight
 *       ("before/after calibration"), their cosine similarity in the title; file {@code
 *       weight_<node>};
 *   <li>any other graph node: for each of its output tensors, the float model's value, the
 *       calibrated model's value and the error {@code float - calibrated}, the cosine similarity in
 *       the title; file {@code node_output_<output>_of_<node>}.
 * </ul>
 *
 * Histograms have {@value #BINS} equal bins over the data's range (NumPy's rule); zeros are left
 * out of the data histograms, not of the error histogram. A blue triangle marks {@code max |x|} of
 * the first (float) series. {@code /} in names becomes {@code _} in file names.
 *
 * <p>Deviations from Horizon: the weights are fake-quantized exactly as the model runs them ({@link
 * FakeQuant}, ONNX QuantizeLinear/DequantizeLinear semantics) rather than by Horizon's Python
 * mirror, which rescales the stored scales by {@code 127 / qmax} and so misquantizes int16 weights;
 * a calibrated model's output tensor is taken before its own calibration node, as Horizon's graph
 * has it. {@code dataNum} may take more than Horizon's one sample (their values are pooled); the
 * default is one.
 */
public final class Distribution {
  /** Bins per histogram (Horizon's). */
  public static final int BINS = 1024;

  static final String FLOAT_COLOR = "#99ffbb";
  static final String QUANT_COLOR = "#FA8072";
  static final String ERROR_COLOR = "#33A1C9";

  /**
   * Options.
   *
   * @param nodes calibration-node or graph-node names (required)
   * @param dataNum the first N samples, pooled; 0 for all
   */
  public record Options(List<String> nodes, int dataNum) {
    public Options {
      nodes = List.copyOf(nodes);
    }

    /** No nodes yet, one sample (Horizon's). */
    public static Options defaults() {
      return new Options(List.of(), 1);
    }

    public Options nodes(List<String> n) {
      return new Options(n, dataNum);
    }

    public Options dataNum(int n) {
      return new Options(nodes, n);
    }
  }

  /**
   * One figure.
   *
   * @param file the file name without extension ({@code activation_<node>}, ...)
   * @param node the name asked for
   * @param kind {@code activation}, {@code weight} or {@code node}
   * @param tensor the tensor plotted
   * @param figure the histograms
   * @param histogram {@code series, bin-left, bin-right, count}: every bar of the figure
   */
  public record Plot(
      String file, String node, String kind, String tensor, Figure figure, Table histogram) {}

  /**
   * The figures and a summary.
   *
   * @param plots in the order of the nodes asked for (a node's outputs in order)
   * @param summary one row per series: {@code file, node, kind, tensor, series, values, min, max,
   *     max-abs, threshold, cosine-similarity} ({@code values}: how many went into the histogram)
   */
  public record Result(List<Plot> plots, Table summary, Options options) implements Report {
    /** The plot written as {@code file}. */
    public Plot plot(String file) {
      return plots.stream()
          .filter(p -> p.file().equals(file))
          .findFirst()
          .orElseThrow(() -> new IllegalArgumentException("no plot '" + file + "'"));
    }

    @Override
    public void save(Path dir) {
      dev.qdebug.SafeNames.Unique files = new dev.qdebug.SafeNames.Unique();
      for (Plot p : plots) {
        String f = files.next(p.file()); // two names may make one file name: keep both
        Html.writeCsv(dir.resolve(f + ".csv"), p.histogram());
        Html.writeFigure(dir.resolve(f + ".html"), p.file(), p.figure(),
            "For an activation: the histogram of its values and the calibrated threshold (values"
                + " beyond it are clipped; a wide range with most values near zero leaves them few"
                + " levels). For a weight: the float values against the quantized ones, whose few"
                + " distinct levels show the step size.");
      }
      Html.writeCsv(dir.resolve("distribution_summary.csv"), summary);
    }
  }

  private Distribution() {}

  private enum Kind {
    ACTIVATION,
    WEIGHT,
    NODE;

    String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private record Target(
      String name, Kind kind, Optional<CalibrationNode> cal, Optional<OnnxNode> node) {}

  /** The calibration node named exactly {@code name}, if any. */
  static Optional<CalibrationNode> calibrationNode(CalibratedModel model, String name) {
    return model.nodes().stream().filter(c -> c.name().equals(name)).findFirst();
  }

  private static Target resolve(CalibratedModel model, String name) {
    Optional<CalibrationNode> c = calibrationNode(model, name);
    if (c.isPresent()) {
      Kind k = c.get().kind() == TensorKind.WEIGHT ? Kind.WEIGHT : Kind.ACTIVATION;
      return new Target(name, k, c, Optional.empty());
    }
    Optional<OnnxNode> n = model.floatModel().findNode(name);
    if (n.isEmpty()) {
      model.calibrationsOf(name); // throws, listing the closest names
      throw new UsageException("--nodes: no node '" + name + "'");
    }
    return new Target(name, Kind.NODE, Optional.empty(), n);
  }

  /** Plots the nodes of {@code o}. */
  public static Result run(CalibratedModel model, SampleSet data, Options o, Progress progress) {
    if (o.nodes().isEmpty()) {
      throw new UsageException("--nodes: give at least one node");
    }
    List<Target> targets = new ArrayList<>();
    for (String name : o.nodes()) {
      targets.add(resolve(model, name));
    }
    int n = Capture.samples(data, o.dataNum());

    Set<String> floatTensors = new LinkedHashSet<>();
    Set<String> calTensors = new LinkedHashSet<>();
    for (Target t : targets) {
      switch (t.kind()) {
        case ACTIVATION -> calTensors.add(t.cal().get().tensor());
        case NODE -> {
          for (String out : t.node().get().outputs()) {
            if (!out.isEmpty()) {
              floatTensors.add(out);
              calTensors.add(out);
            }
          }
        }
        case WEIGHT -> {}
      }
    }
    Map<String, List<float[]>> floats = new LinkedHashMap<>();
    Map<String, List<float[]>> quants = new LinkedHashMap<>();
    if (!calTensors.isEmpty()) {
      Set<String> enabled = model.enabled();
      List<BatchPlan.Batch> plan =
          BatchPlan.of(model.session(), data, n, BatchPlan.FORWARD, "plot-distribution").batches();
      int batches = plan.size();
      for (int b = 0; b < batches; b++) {
        Map<String, INDArray> in = data.batch(plan.get(b).samples());
        if (!floatTensors.isEmpty()) {
          Map<String, INDArray> f =
              model.run(in, List.of(), RunOptions.outputs(new ArrayList<>(floatTensors)));
          f.forEach(
              (k, v) -> floats.computeIfAbsent(k, x -> new ArrayList<>()).add(Tensors.floats(v)));
        }
        Capture.Values q = Capture.run(model, in, enabled, calTensors);
        for (String t : calTensors) {
          quants.computeIfAbsent(t, x -> new ArrayList<>()).add(Tensors.floats(q.before().get(t)));
        }
        progress.update("plot-distribution", b + 1, batches);
      }
    }

    List<Plot> plots = new ArrayList<>();
    Summary summary = new Summary();
    for (Target t : targets) {
      switch (t.kind()) {
        case ACTIVATION -> {
          CalibrationNode c = t.cal().get();
          float[] x = Capture.concat(quants.get(c.tensor()));
          float threshold = max(c.thresholds());
          String file = "activation_" + Capture.fileName(t.name());
          plots.add(
              plot(
                  file,
                  t.name(),
                  Kind.ACTIVATION,
                  c.tensor(),
                  t.name() + " activation distribution",
                  List.of(new Series("input data distribution", x, true, FLOAT_COLOR)),
                  threshold,
                  Double.NaN,
                  summary));
        }
        case WEIGHT -> {
          CalibrationNode c = t.cal().get();
          INDArray w = model.session().plan().constant(c.tensor());
          float[] before = Tensors.floats(w);
          float[] after = Tensors.floats(FakeQuant.apply(w, c.params()));
          double cos = Metric.cosine(before, after);
          String file = "weight_" + Capture.fileName(t.name());
          plots.add(
              plot(
                  file,
                  t.name(),
                  Kind.WEIGHT,
                  c.tensor(),
                  t.name() + " weight distribution, cosine-similarity: " + fmt(cos),
                  List.of(
                      new Series("before calibration", before, true, FLOAT_COLOR),
                      new Series("after calibration", after, true, QUANT_COLOR)),
                  Double.NaN,
                  cos,
                  summary));
        }
        case NODE -> {
          for (String out : t.node().get().outputs()) {
            if (out.isEmpty()) {
              continue;
            }
            float[] f = Capture.concat(floats.get(out));
            float[] q = Capture.concat(quants.get(out));
            float[] err = new float[f.length];
            for (int i = 0; i < f.length; i++) {
              err[i] = f[i] - q[i];
            }
            double cos = Metric.cosine(f, q);
            String file =
                "node_output_" + Capture.fileName(out) + "_of_" + Capture.fileName(t.name());
            plots.add(
                plot(
                    file,
                    t.name(),
                    Kind.NODE,
                    out,
                    out
                        + " of "
                        + t.name()
                        + " output distribution, cosine-similarity: "
                        + fmt(cos),
                    List.of(
                        new Series("before calibration", f, true, FLOAT_COLOR),
                        new Series("after calibration", q, true, QUANT_COLOR),
                        new Series("quantization error distribution", err, false, ERROR_COLOR)),
                    Double.NaN,
                    cos,
                    summary));
          }
        }
      }
    }
    return new Result(plots, summary.table(), o);
  }

  private record Series(String name, float[] values, boolean skipZeros, String color) {}

  private static final class Summary {
    final StringColumn file = StringColumn.create("file");
    final StringColumn node = StringColumn.create("node");
    final StringColumn kind = StringColumn.create("kind");
    final StringColumn tensor = StringColumn.create("tensor");
    final StringColumn series = StringColumn.create("series");
    final LongColumn values = LongColumn.create("values");
    final DoubleColumn min = DoubleColumn.create("min");
    final DoubleColumn max = DoubleColumn.create("max");
    final DoubleColumn maxAbs = DoubleColumn.create("max-abs");
    final DoubleColumn threshold = DoubleColumn.create("threshold");
    final DoubleColumn cosine = DoubleColumn.create(Metric.COSINE_SIMILARITY.label());

    Table table() {
      return Table.create(
          "distribution summary",
          file,
          node,
          kind,
          tensor,
          series,
          values,
          min,
          max,
          maxAbs,
          threshold,
          cosine);
    }
  }

  private static Plot plot(
      String file,
      String node,
      Kind kind,
      String tensor,
      String title,
      List<Series> series,
      double threshold,
      double cosine,
      Summary summary) {
    List<Trace> traces = new ArrayList<>();
    StringColumn sName = StringColumn.create("series");
    DoubleColumn left = DoubleColumn.create("bin-left");
    DoubleColumn right = DoubleColumn.create("bin-right");
    LongColumn count = LongColumn.create("count");
    long top = 1;
    // the figure's bins come from the data (Freedman-Diaconis, 10 to 200 bins: 1,024 bins of a
    // sparse tensor read as a barcode); the CSV keeps Horizon's BINS equal bins
    int figureBins = figureBins(series.get(0).values(), series.get(0).skipZeros());
    long shownValues = 0;
    for (Series s : series) {
      Hist h = Hist.of(s.values(), BINS, s.skipZeros());
      Hist f = Hist.of(s.values(), figureBins, s.skipZeros());
      top = Math.max(top, f.max());
      shownValues = Math.max(shownValues, f.total());
      traces.add(Traces.histogram(s.name(), f.edges(), f.counts(), s.color(), 0.75));
      for (int i = 0; i < BINS; i++) {
        sName.append(s.name());
        left.append(h.edges()[i]);
        right.append(h.edges()[i + 1]);
        count.append(h.counts()[i]);
      }
      double lo = Double.NaN;
      double hi = Double.NaN;
      for (float v : s.values()) {
        if (Float.isFinite(v) && !(s.skipZeros() && v == 0)) {
          lo = Double.isNaN(lo) ? v : Math.min(lo, v);
          hi = Double.isNaN(hi) ? v : Math.max(hi, v);
        }
      }
      summary.file.append(file);
      summary.node.append(node);
      summary.kind.append(kind.label());
      summary.tensor.append(tensor);
      summary.series.append(s.name());
      summary.values.append(h.total());
      summary.min.append(lo);
      summary.max.append(hi);
      summary.maxAbs.append(maxAbs(s.values()));
      summary.threshold.append(threshold);
      summary.cosine.append(cosine);
    }
    if (!Double.isNaN(threshold)) {
      traces.add(Traces.verticalLine("threshold " + fmt(threshold), threshold, top, "red", true));
    }
    double m = maxAbs(series.get(0).values());
    traces.add(
        Traces.points(
            "max |x| " + fmt(m), new double[] {m}, new double[] {0}, "triangle-up", "blue", 12));
    String words =
        switch (kind) {
          case ACTIVATION -> "Values entering " + dev.qdebug.viz.PlotlyJson.shorten(tensor)
              + " (activation) and its calibrated threshold";
          case WEIGHT -> "Weights " + dev.qdebug.viz.PlotlyJson.shorten(tensor)
              + ": float against quantized, cosine similarity " + dev.qdebug.viz.Fmt.num(cosine);
          case NODE -> title;
        };
    dev.qdebug.viz.Plot fig =
        new dev.qdebug.viz.Plot(
            Traces.layout(words, "value", "count per bin", false, true, 900),
            traces.toArray(Trace[]::new));
    String note =
        String.format(java.util.Locale.ROOT, "%,d values", shownValues)
            + (series.get(0).skipZeros() ? " (zeros left out)" : "")
            + ", " + figureBins + " bins"
            + (Double.isNaN(threshold) ? "" : "; calibrated threshold ±" + dev.qdebug.viz.Fmt.num(threshold));
    fig.layout(
        List.of(
            java.util.Map.of(
                "text", note,
                "xref", "paper",
                "yref", "paper",
                "x", 1,
                "y", 1,
                "xanchor", "right",
                "yanchor", "bottom",
                "showarrow", false,
                "font", java.util.Map.of("size", 12, "color", "#444"))),
        "annotations");
    Table hist = Table.create(file, sName, left, right, count);
    return new Plot(file, node, kind.label(), tensor, fig, hist);
  }

  /** Freedman-Diaconis bins for the figure, 10 to 200 (a subsample of 100,000 sets the IQR). */
  static int figureBins(float[] v, boolean skipZeros) {
    int n = 0;
    for (float x : v) {
      if (Float.isFinite(x) && !(skipZeros && x == 0)) {
        n++;
      }
    }
    if (n < 2) {
      return 10;
    }
    int step = Math.max(1, n / 100_000);
    double[] s = new double[(n + step - 1) / step];
    int k = 0;
    int seen = 0;
    for (float x : v) {
      if (Float.isFinite(x) && !(skipZeros && x == 0)) {
        if (seen++ % step == 0 && k < s.length) {
          s[k++] = x;
        }
      }
    }
    s = java.util.Arrays.copyOf(s, k);
    java.util.Arrays.sort(s);
    double range = s[k - 1] - s[0];
    double iqr = s[(int) (0.75 * (k - 1))] - s[(int) (0.25 * (k - 1))];
    if (range <= 0) {
      return 10;
    }
    double width = iqr > 0 ? 2 * iqr / Math.cbrt(n) : range / Math.sqrt(n);
    return (int) Math.max(10, Math.min(200, Math.ceil(range / width)));
  }

  static double maxAbs(float[] v) {
    double m = 0;
    for (float x : v) {
      if (Float.isFinite(x)) {
        m = Math.max(m, Math.abs(x));
      }
    }
    return m;
  }

  private static float max(float[] v) {
    float m = Float.NEGATIVE_INFINITY;
    for (float x : v) {
      m = Math.max(m, x);
    }
    return m;
  }

  private static String fmt(double d) {
    return String.format(Locale.ROOT, "%.6g", d);
  }
}
