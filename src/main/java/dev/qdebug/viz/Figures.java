package dev.qdebug.viz;

import java.util.List;
import java.util.Map;
import tech.tablesaw.plotly.components.Axis;
import tech.tablesaw.plotly.components.Figure;
import tech.tablesaw.plotly.components.Layout;
import tech.tablesaw.plotly.components.Line;
import tech.tablesaw.plotly.components.Marker;
import tech.tablesaw.plotly.traces.BarTrace;
import tech.tablesaw.plotly.traces.ScatterTrace;
import tech.tablesaw.plotly.traces.Trace;

/** One-call Plotly figures with a title, axis labels and a legend, as qdebug's analyses draw. */
public final class Figures {
  private Figures() {}

  /** A layout with title and axis titles; category x axes keep the given order. */
  public static Layout layout(String title, String xTitle, String yTitle, boolean categoryX) {
    Axis.AxisBuilder x = Axis.builder().title(xTitle);
    if (categoryX) {
      x.type(Axis.Type.CATEGORY);
    }
    return Layout.builder(title)
        .xAxis(x.build())
        .yAxis(Axis.builder().title(yTitle).build())
        .showLegend(true)
        .height(categoryX ? 640 : 520)
        .width(900)
        // long category labels (node names) need room below the axis
        .margin(tech.tablesaw.plotly.components.Margin.builder().bottom(categoryX ? 220 : 80).build())
        .build();
  }

  /**
   * Lines over numeric x, one per series (legend = series name, in map order). NaN values are
   * drawn as gaps and keep their x position.
   */
  public static Plot lines(
      String title, String xTitle, String yTitle, double[] x, Map<String, double[]> series) {
    Trace[] traces =
        series.entrySet().stream()
            .map(
                e ->
                    ScatterTrace.builder(x, e.getValue())
                        .mode(ScatterTrace.Mode.LINE_AND_MARKERS)
                        .name(e.getKey())
                        .showLegend(true)
                        .build())
            .toArray(Trace[]::new);
    return new Plot(layout(title, xTitle, yTitle, false), traces);
  }

  /** Lines and marker-only series over category x (e.g. node names). */
  public static Plot categoryLines(
      String title,
      String xTitle,
      String yTitle,
      String[] x,
      Map<String, double[]> lines,
      Map<String, double[]> markers) {
    List<Trace> traces = new java.util.ArrayList<>();
    for (var e : lines.entrySet()) {
      traces.add(
          ScatterTrace.builder(cat(x), num(e.getValue()))
              .mode(ScatterTrace.Mode.LINE_AND_MARKERS)
              .name(e.getKey())
              .showLegend(true)
              .build());
    }
    for (var e : markers.entrySet()) {
      traces.add(
          ScatterTrace.builder(cat(x), num(e.getValue()))
              .mode(ScatterTrace.Mode.MARKERS)
              .marker(Marker.builder().symbol(tech.tablesaw.plotly.components.Symbol.X).size(10).build())
              .name(e.getKey())
              .showLegend(true)
              .build());
    }
    return new Plot(layout(title, xTitle, yTitle, true), traces.toArray(Trace[]::new));
  }

  /** Vertical bars over categories (e.g. one per node, in ranking order). */
  public static Plot bars(String title, String xTitle, String yTitle, String[] x, double[] y, String legend) {
    Trace t = BarTrace.builder(cat(x), num(y)).name(legend).showLegend(true).build();
    return new Plot(layout(title, xTitle, yTitle, true), t);
  }

  /** A dashed horizontal reference line across {@code x} (drawn as a line trace). */
  public static Trace reference(String name, String[] x, double y) {
    double[] v = new double[x.length];
    java.util.Arrays.fill(v, y);
    return ScatterTrace.builder(cat(x), num(v))
        .mode(ScatterTrace.Mode.LINE)
        .line(Line.builder().dash(Line.Dash.DASH).build())
        .name(name)
        .showLegend(true)
        .build();
  }

  static tech.tablesaw.api.StringColumn cat(String[] x) {
    return tech.tablesaw.api.StringColumn.create("x", x);
  }

  static tech.tablesaw.api.DoubleColumn num(double[] y) {
    return tech.tablesaw.api.DoubleColumn.create("y", y);
  }
}
