package dev.qdebug.viz;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tech.tablesaw.plotly.components.Figure;
import tech.tablesaw.plotly.traces.Trace;

/**
 * A Tablesaw figure as Plotly's JSON figure ({@code {"data": [...], "layout": {...}}}), the form of
 * Jupyter's {@code application/vnd.plotly.v1+json} and of {@code Plotly.newPlot(div, data,
 * layout)}. Tablesaw only writes JavaScript object literals, so each trace and the layout are read
 * back leniently; string titles become {@code {"text": ...}} (the form plotly.js 2 and 3 both
 * draw), HTML escapes in names and titles are undone, and numbers that are not finite become null.
 * Event handlers (JavaScript functions) are not carried over.
 *
 * <p>Every figure is also fitted to a notebook column and made to read ({@link #polish}): at most
 * {@value #MAX_WIDTH} px wide, axes with automatic margins so long tick labels and axis titles do
 * not overlap, long category labels (node names) shortened on the axis with the full name on hover,
 * the legend above the plot, and bar charts from zero.
 */
public final class PlotlyJson {
  /** The widest figure, in pixels (a notebook column, a report page). */
  public static final int MAX_WIDTH = 900;

  /** Category labels longer than this are shortened on the axis (the full name shows on hover). */
  public static final int MAX_LABEL = 32;

  private static final JsonMapper LENIENT =
      JsonMapper.builder()
          .enable(
              JsonReadFeature.ALLOW_SINGLE_QUOTES,
              JsonReadFeature.ALLOW_UNQUOTED_FIELD_NAMES,
              JsonReadFeature.ALLOW_TRAILING_COMMA,
              JsonReadFeature.ALLOW_JAVA_COMMENTS,
              JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS,
              JsonReadFeature.ALLOW_BACKSLASH_ESCAPING_ANY_CHARACTER)
          .build();

  private static final JsonMapper STRICT = JsonMapper.builder().build();

  private PlotlyJson() {}

  /** The figure as nested maps, lists, strings, numbers and booleans. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> of(Figure figure) {
    return STRICT.convertValue(tree(figure), LinkedHashMap.class);
  }

  /** A figure's JSON as a text that is safe inside an HTML {@code <script>} element. */
  public static String scriptSafe(ObjectNode figure) {
    try {
      return STRICT.writeValueAsString(figure).replace("</", "<\\/");
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The figure as a JSON tree, polished. */
  public static ObjectNode tree(Figure figure) {
    return polish(raw(figure));
  }

  /** The figure as a JSON tree, as Tablesaw describes it. */
  static ObjectNode raw(Figure figure) {
    ObjectNode fig = JsonNodeFactory.instance.objectNode();
    ArrayNode data = fig.putArray("data");
    Trace[] traces = figure.getTraces();
    for (int i = 0; traces != null && i < traces.length; i++) {
      data.add(clean(literal(traces[i].asJavascript(i)), true));
    }
    ObjectNode layout =
        figure.getLayout() == null
            ? JsonNodeFactory.instance.objectNode()
            : (ObjectNode) clean(literal(figure.getLayout().asJavascript()), true);
    fig.set("layout", layout);
    if (figure instanceof Plot p) {
      merge(layout, STRICT.valueToTree(p.layoutPatch()));
      if (p.subtitle() != null && layout.get("title") instanceof ObjectNode t) {
        t.put("text", t.path("text").asText() + "<br><sup>" + Html.escape(p.subtitle()) + "</sup>");
      }
    }
    return fig;
  }

  private static void merge(ObjectNode into, JsonNode patch) {
    patch.fields()
        .forEachRemaining(
            e -> {
              if (e.getValue().isObject() && into.get(e.getKey()) instanceof ObjectNode o) {
                merge(o, e.getValue());
              } else {
                into.set(e.getKey(), e.getValue());
              }
            });
  }

  /** The object literal in {@code var x = {...};}. */
  static JsonNode literal(String js) {
    int from = js.indexOf('{');
    int to = js.lastIndexOf('}');
    if (from < 0 || to < from) {
      throw new IllegalArgumentException("no object literal in: " + js);
    }
    try {
      return LENIENT.readTree(js.substring(from, to + 1));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot read Tablesaw's figure script: " + e.getOriginalMessage(), e);
    }
  }

  private static JsonNode clean(JsonNode n, boolean inObject) {
    if (n.isObject()) {
      ObjectNode o = (ObjectNode) n;
      List<String> names = new ArrayList<>();
      o.fieldNames().forEachRemaining(names::add);
      for (String k : names) {
        JsonNode v = clean(o.get(k), true);
        if (k.equals("title") && v.isTextual()) {
          ObjectNode t = JsonNodeFactory.instance.objectNode();
          t.set("text", v);
          v = t;
        }
        o.set(k, v);
      }
      return o;
    }
    if (n.isArray()) {
      ArrayNode a = (ArrayNode) n;
      for (int i = 0; i < a.size(); i++) {
        a.set(i, clean(a.get(i), false));
      }
      return a;
    }
    if (n.isNumber() && !Double.isFinite(n.doubleValue())) {
      return JsonNodeFactory.instance.nullNode();
    }
    if (n.isTextual() && inObject) {
      return JsonNodeFactory.instance.textNode(unescapeHtml(n.textValue()));
    }
    return n;
  }

  /** Undoes the escaping Tablesaw's templates apply to names and titles. */
  public static String unescapeHtml(String s) {
    if (s.indexOf('&') < 0) {
      return s;
    }
    return s.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
  }

  /** Applies qdebug's figure rules (see the class comment) to a figure's JSON, in place. */
  static ObjectNode polish(ObjectNode fig) {
    ObjectNode layout =
        fig.get("layout") instanceof ObjectNode l ? l : fig.putObject("layout");
    int width = layout.path("width").asInt(MAX_WIDTH);
    layout.put("width", Math.min(width, MAX_WIDTH));
    if (!layout.has("height")) {
      layout.put("height", 520);
    }
    ObjectNode title = layout.get("title") instanceof ObjectNode t ? t : null;
    if (title != null) {
      // at the top left; the legend goes between it and the plot
      title.put("x", 0.01).put("xanchor", "left").put("xref", "container");
      title.put("yanchor", "top").put("yref", "container"); // y below, from the final height
    }
    // legend rows: about 7 px a character, 40 px for the symbol and gap
    int legendPx = 0;
    for (JsonNode t : fig.path("data")) {
      if (t.path("showlegend").asBoolean(true)) {
        legendPx += 40 + 7 * t.path("name").asText().length();
      }
    }
    int rows = Math.max(1, (int) Math.ceil(legendPx / (double) (Math.min(width, MAX_WIDTH) - 120)));
    boolean subtitle = title != null && title.path("text").asText().contains("<br>");
    ObjectNode margin = layout.get("margin") instanceof ObjectNode m ? m : layout.putObject("margin");
    margin.removeAll(); // automargin below decides
    margin.put("t", (subtitle ? 62 : 46) + 22 * rows).put("l", 70).put("r", 30).put("b", 60);
    layout.put("height", layout.path("height").asInt(520) + 22 * (rows - 1));
    if (title != null) {
      // plotly.js places a two-line title's top about a line too high: lower it by hand
      title.put("y", 1 - (subtitle ? 26.0 : 10.0) / layout.get("height").asInt());
    }
    layout.putObject("modebar").put("orientation", "v"); // beside the plot, not over the title
    ObjectNode legend = layout.putObject("legend");
    legend.put("orientation", "h").put("x", 0).put("xanchor", "left").put("y", 1.02).put("yanchor", "bottom");
    boolean bars = false;
    for (JsonNode t : fig.path("data")) {
      bars |= "bar".equals(t.path("type").asText()) && !t.has("width"); // not histograms
    }
    for (String axis : List.of("xaxis", "yaxis")) {
      ObjectNode a = layout.get(axis) instanceof ObjectNode x ? x : layout.putObject(axis);
      a.put("automargin", true);
      if (a.get("title") instanceof ObjectNode t) {
        t.put("standoff", 12);
      }
    }
    if (bars) {
      ((ObjectNode) layout.get("yaxis")).put("rangemode", "tozero");
    }
    shortenCategories(fig, (ObjectNode) layout.get("xaxis"));
    return fig;
  }

  /** Long string x values: short tick labels, the full name on hover. */
  private static void shortenCategories(ObjectNode fig, ObjectNode xaxis) {
    java.util.LinkedHashSet<String> names = new java.util.LinkedHashSet<>();
    boolean longOnes = false;
    for (JsonNode t : fig.path("data")) {
      for (JsonNode v : t.path("x")) {
        if (!v.isTextual()) {
          return;
        }
        names.add(v.textValue());
        longOnes |= v.textValue().length() > MAX_LABEL;
      }
    }
    if (names.isEmpty() || names.stream().allMatch(PlotlyJson::isNumber)) {
      return; // Tablesaw writes numbers as strings: a numeric axis
    }
    xaxis.put("type", "category");
    int chars = names.stream().mapToInt(n -> Math.min(n.length(), MAX_LABEL)).sum();
    xaxis.put("tickangle", names.size() > 8 ? -60 : chars * 7 > 600 ? -30 : 0);
    if (!longOnes) {
      return;
    }
    ArrayNode vals = xaxis.putArray("tickvals");
    ArrayNode text = xaxis.putArray("ticktext");
    for (String n : names) {
      vals.add(n);
      text.add(shorten(n));
    }
    for (JsonNode t : fig.path("data")) {
      if (t instanceof ObjectNode o && !o.has("hovertemplate") && !o.has("text")) {
        o.put("hovertemplate", "%{x}<br>%{y}<extra>%{fullData.name}</extra>");
      }
    }
  }

  private static boolean isNumber(String s) {
    try {
      Double.parseDouble(s);
      return true;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  /**
   * {@code name} short enough for an axis: path segments that only repeat the start of the next
   * one go ({@code /net/features/features.22/fused/Conv} becomes {@code
   * /net/features.22/fused/Conv}), then, if still longer than {@value #MAX_LABEL} characters, the
   * end is kept (a node's own part) after an ellipsis.
   */
  public static String shorten(String name) {
    if (name.length() <= MAX_LABEL) {
      return name;
    }
    String[] seg = name.split("/", -1);
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < seg.length; i++) {
      boolean repeats = !seg[i].isEmpty() && i + 1 < seg.length && seg[i + 1].startsWith(seg[i]);
      if (!repeats) {
        b.append(b.length() == 0 && i == 0 ? "" : "/").append(seg[i]);
      }
    }
    String s = b.toString();
    return s.length() <= MAX_LABEL ? s : "…" + s.substring(s.length() - (MAX_LABEL - 1));
  }
}
