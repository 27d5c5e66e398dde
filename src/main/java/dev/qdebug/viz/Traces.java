package dev.qdebug.viz;

import java.util.LinkedHashMap;
import java.util.Map;
import tech.tablesaw.plotly.components.Axis;
import tech.tablesaw.plotly.components.HoverLabel;
import tech.tablesaw.plotly.components.Layout;
import tech.tablesaw.plotly.traces.Trace;

/**
 * Plotly traces written directly as JSON, for what Tablesaw's builders cannot express: histograms
 * with exact bin edges from precomputed counts, box plots from precomputed quartiles (so a page
 * does not carry every value of a large tensor), vertical reference lines, and lines with hover
 * text. They go into a Tablesaw {@code Figure} like any other trace.
 */
public final class Traces {
  private Traces() {}

  /** A trace given as the properties of a Plotly trace object. */
  static final class JsonTrace implements Trace {
    private final String name;
    private final Map<String, Object> props;

    JsonTrace(String name, Map<String, Object> props) {
      this.name = name;
      this.props = props;
    }

    @Override
    public String asJavascript(int i) {
      return "var trace" + i + " =\n" + Json.compact(props) + ";\n";
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public HoverLabel hoverLabel() {
      return null;
    }

    @Override
    public boolean showLegend() {
      return true;
    }
  }

  private static Map<String, Object> base(String type, String name) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("type", type);
    p.put("name", name);
    p.put("showlegend", true);
    return p;
  }

  /**
   * A histogram from precomputed counts: one bar per bin, spanning exactly {@code [edges[i],
   * edges[i+1])}.
   */
  public static Trace histogram(
      String name, double[] edges, long[] counts, String color, double opacity) {
    if (edges.length != counts.length + 1) {
      throw new IllegalArgumentException("need one more edge than counts");
    }
    double[] x = new double[counts.length];
    double[] w = new double[counts.length];
    for (int i = 0; i < counts.length; i++) {
      x[i] = (edges[i] + edges[i + 1]) / 2;
      w[i] = edges[i + 1] - edges[i];
    }
    Map<String, Object> p = base("bar", name);
    p.put("x", x);
    p.put("y", counts);
    p.put("width", w);
    p.put("opacity", opacity);
    p.put("marker", Map.of("color", color, "line", Map.of("width", 0)));
    return new JsonTrace(name, p);
  }

  /** A vertical line at {@code x} from 0 to {@code top}. */
  public static Trace verticalLine(
      String name, double x, double top, String color, boolean dashed) {
    Map<String, Object> p = base("scatter", name);
    p.put("mode", "lines");
    p.put("x", new double[] {x, x});
    p.put("y", new double[] {0, top});
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("color", color);
    line.put("width", 2);
    if (dashed) {
      line.put("dash", "dash");
    }
    p.put("line", line);
    return new JsonTrace(name, p);
  }

  /** Marker-only points (e.g. a triangle at a maximum, or box-plot outliers). */
  public static Trace points(
      String name, double[] x, double[] y, String symbol, String color, double size) {
    Map<String, Object> p = base("scatter", name);
    p.put("mode", "markers");
    p.put("x", x);
    p.put("y", y);
    p.put("marker", Map.of("symbol", symbol, "color", color, "size", size));
    return new JsonTrace(name, p);
  }

  /** Lines with markers over numeric {@code x}; {@code text} (may be null) shows on hover. */
  public static Trace line(String name, double[] x, double[] y, String[] text) {
    Map<String, Object> p = base("scatter", name);
    p.put("mode", "lines+markers");
    p.put("x", x);
    p.put("y", y);
    if (text != null) {
      p.put("text", text);
    }
    return new JsonTrace(name, p);
  }

  /**
   * Box plots from precomputed statistics, one box per {@code x}: the box from {@code q1} to {@code
   * q3} with the median, whiskers to the fences, and the mean as a dashed line.
   */
  public static Trace boxes(
      String name,
      double[] x,
      double[] q1,
      double[] median,
      double[] q3,
      double[] lowerFence,
      double[] upperFence,
      double[] mean,
      String color) {
    Map<String, Object> p = base("box", name);
    p.put("x", x);
    p.put("q1", q1);
    p.put("median", median);
    p.put("q3", q3);
    p.put("lowerfence", lowerFence);
    p.put("upperfence", upperFence);
    p.put("mean", mean);
    p.put("boxmean", true);
    p.put("boxpoints", false);
    p.put("line", Map.of("color", color));
    return new JsonTrace(name, p);
  }

  /**
   * A layout with title, axis titles and legend; numeric x axis; optionally a logarithmic y axis
   * and bars drawn over each other (overlaid histograms).
   */
  public static Layout layout(
      String title, String xTitle, String yTitle, boolean logY, boolean overlayBars, int width) {
    Axis.AxisBuilder y = Axis.builder().title(yTitle);
    if (logY) {
      y.type(Axis.Type.LOG);
    }
    Layout.LayoutBuilder b =
        Layout.builder(title)
            .xAxis(Axis.builder().title(xTitle).type(Axis.Type.LINEAR).build())
            .yAxis(y.build())
            .showLegend(true)
            .height(560)
            .width(width);
    if (overlayBars) {
      b.barMode(Layout.BarMode.OVERLAY);
    }
    return b.build();
  }
}
