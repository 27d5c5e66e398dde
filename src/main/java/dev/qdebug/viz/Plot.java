package dev.qdebug.viz;

import java.util.LinkedHashMap;
import java.util.Map;
import tech.tablesaw.plotly.components.Figure;
import tech.tablesaw.plotly.components.Layout;
import tech.tablesaw.plotly.traces.Trace;

/**
 * A Tablesaw figure with what Tablesaw's layout cannot say: layout properties merged over it
 * (axis ranges, annotations; Plotly's JSON names) and a subtitle (the setting the figure shows,
 * e.g. "int4 weights per channel, int8 activations"), both applied by {@link PlotlyJson}.
 */
public class Plot extends Figure {
  private final Map<String, Object> layoutPatch = new LinkedHashMap<>();
  private volatile String subtitle;

  public Plot(Layout layout, Trace... traces) {
    super(layout, traces);
  }

  /** Layout properties merged over Tablesaw's layout (nested maps merge key by key); mutable. */
  public Map<String, Object> layoutPatch() {
    return layoutPatch;
  }

  /** Merges {@code value} under {@code path} (e.g. "xaxis", "range") into the layout patch. */
  @SuppressWarnings("unchecked")
  public Plot layout(Object value, String... path) {
    Map<String, Object> m = layoutPatch;
    for (int i = 0; i < path.length - 1; i++) {
      m = (Map<String, Object>) m.computeIfAbsent(path[i], k -> new LinkedHashMap<String, Object>());
    }
    m.put(path[path.length - 1], value);
    return this;
  }

  /** The second title line (null: none). */
  public String subtitle() {
    return subtitle;
  }

  public Plot subtitle(String s) {
    this.subtitle = s;
    return this;
  }
}
