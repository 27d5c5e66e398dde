package dev.qdebug.notebook;

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
 */
final class PlotlyJson {
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
  static Map<String, Object> of(Figure figure) {
    return STRICT.convertValue(tree(figure), LinkedHashMap.class);
  }

  /** A figure's JSON as a text that is safe inside an HTML {@code <script>} element. */
  static String scriptSafe(ObjectNode figure) {
    try {
      return STRICT.writeValueAsString(figure).replace("</", "<\\/");
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The figure as a JSON tree. */
  static ObjectNode tree(Figure figure) {
    ObjectNode fig = JsonNodeFactory.instance.objectNode();
    ArrayNode data = fig.putArray("data");
    Trace[] traces = figure.getTraces();
    for (int i = 0; traces != null && i < traces.length; i++) {
      data.add(clean(literal(traces[i].asJavascript(i)), true));
    }
    fig.set(
        "layout",
        figure.getLayout() == null
            ? JsonNodeFactory.instance.objectNode()
            : clean(literal(figure.getLayout().asJavascript()), true));
    return fig;
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
  static String unescapeHtml(String s) {
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
}
