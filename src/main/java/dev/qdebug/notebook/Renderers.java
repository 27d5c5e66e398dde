package dev.qdebug.notebook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qdebug.debug.Report;
import dev.qdebug.viz.Html;
import dev.qdebug.viz.PlotlyJson;
import java.lang.reflect.RecordComponent;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.WeakHashMap;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.display.mime.MIMEType;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;

/**
 * How qdebug's values look in a notebook: a Tablesaw {@link Table} as an HTML table (the first
 * {@value #MAX_ROWS} rows) and text; a Plotly {@link Figure} as HTML (a div and a script that
 * draws it offline, see {@link PlotlyScript}), as Plotly's own JSON bundle and as a one-line text;
 * an analysis result ({@link Report} record) as its tables and figures in order.
 */
final class Renderers {
  /** Rows shown of a table; the caption says when there are more. */
  static final int MAX_ROWS = 100;

  /** Jupyter's MIME type for a Plotly figure (JupyterLab draws it with its plotly extension). */
  static final String PLOTLY_MIME = "application/vnd.plotly.v1+json";

  static final String HTML = "text/html";
  static final String TEXT = "text/plain";

  /** Renderers already holding qdebug's registrations (installing twice would render twice). */
  private static final Set<Renderer> INSTALLED =
      Collections.newSetFromMap(new WeakHashMap<>());

  private Renderers() {}

  /** The value types qdebug renders, most specific first. */
  static List<Class<?>> types() {
    return List.of(Table.class, Figure.class, Report.class, HtmlFragment.class);
  }

  /** The MIME types {@code type} is rendered as, all of them produced by default. */
  static List<String> mimeTypes(Class<?> type) {
    if (type == Figure.class) {
      return List.of(HTML, PLOTLY_MIME, TEXT);
    }
    return List.of(HTML, TEXT);
  }

  /** {@code value} (of one of {@link #types()}) as {@code mime}. */
  static Object render(Object value, String mime) {
    if (value instanceof Table t) {
      return mime.equals(HTML) ? tableHtml(t) : dev.qdebug.viz.Fmt.text(t, MAX_ROWS);
    }
    if (value instanceof Figure f) {
      return switch (mime) {
        case HTML -> figureHtml(f);
        case PLOTLY_MIME -> PlotlyJson.of(f);
        default -> figureText(f);
      };
    }
    if (value instanceof Report r) {
      return mime.equals(HTML) ? reportHtml(r) : reportText(r);
    }
    if (value instanceof HtmlFragment h) {
      return mime.equals(HTML) ? h.html() : h.text();
    }
    return String.valueOf(value);
  }

  /** Registers every qdebug renderer with {@code r}, once per renderer. */
  static void register(Renderer r) {
    synchronized (INSTALLED) {
      if (!INSTALLED.add(r)) {
        return;
      }
    }
    for (Class<?> type : types()) {
      registerOne(r, type);
    }
  }

  private static <T> void registerOne(Renderer r, Class<T> type) {
    List<String> mimes = mimeTypes(type);
    r.createRegistration(type)
        .preferring(mimes.stream().map(MIMEType::parse).toArray(MIMEType[]::new))
        .register(
            (value, ctx) -> {
              for (String mime : mimes) {
                ctx.renderIfRequested(MIMEType.parse(mime), () -> render(value, mime));
              }
            });
  }

  /** The first {@value #MAX_ROWS} rows as an HTML table, captioned with name and size. */
  static String tableHtml(Table t) {
    int shown = Math.min(MAX_ROWS, t.rowCount());
    Table head = t.first(shown);
    String caption =
        (t.name() == null || t.name().isBlank() ? "table" : t.name())
            + " ("
            + t.rowCount()
            + " rows × "
            + t.columnCount()
            + " columns"
            + (shown < t.rowCount() ? ", first " + shown + " shown" : "")
            + ")";
    head.setName(caption);
    // the caption is as wide as the table otherwise: narrow tables wrapped it word by word
    return Html.table(head)
        .replaceFirst("<caption>", "<caption style=\"white-space:nowrap;text-align:left\">");
  }

  /** HTML that draws {@code f}: plotly.js itself first when this is the session's first figure. */
  static String figureHtml(Figure f) {
    String id = "qdebug-figure-" + UUID.randomUUID();
    ObjectNode json = PlotlyJson.tree(f);
    JsonNode layout = json.get("layout");
    String size =
        layout.has("width") && layout.has("height")
            ? String.format(
                Locale.ROOT,
                " style=\"width:%dpx;height:%dpx\"",
                layout.get("width").asInt(),
                layout.get("height").asInt())
            : "";
    String head = PlotlyScript.claimEmbedding() ? PlotlyScript.embedded() : "";
    return head
        + "<div id=\""
        + id
        + "\" class=\"qdebug-figure\""
        + size
        + "></div>\n<script type=\"text/javascript\">\n"
        + "(function () {\n"
        + "  var figure = "
        + PlotlyJson.scriptSafe(json)
        + ";\n"
        + "  var tries = 0;\n"
        + "  function draw() {\n"
        + "    var div = document.getElementById('"
        + id
        + "');\n"
        + "    if (div && window.Plotly) {\n"
        // a published notebook holds a static picture here (for viewers without JavaScript)
        + "      var still = div.querySelector('img.qdebug-static');\n"
        + "      if (still) { still.remove(); }\n"
        + "      window.Plotly.newPlot(div, figure.data, figure.layout, {displaylogo: false});\n"
        + "    } else if (++tries < 200) {\n"
        + "      setTimeout(draw, 50);\n"
        + "    } else if (div && !div.querySelector('img.qdebug-static')) {\n"
        + "      div.textContent = 'plotly.js is not loaded in this page: run"
        + " reloadPlotly(), then this cell again';\n"
        + "    }\n"
        + "  }\n"
        + "  draw();\n"
        + "})();\n"
        + "</script>\n";
  }

  static String figureText(Figure f) {
    String title = Html.figureTitle(f);
    int n = f.getTraces() == null ? 0 : f.getTraces().length;
    return "Figure"
        + (title == null || title.isBlank() ? "" : " '" + title + "'")
        + " ("
        + n
        + (n == 1 ? " trace" : " traces")
        + ")";
  }

  /** The tables and figures of a result record, in declaration order, each under its name. */
  static String reportHtml(Report r) {
    StringBuilder b = new StringBuilder("<div class=\"qdebug-report\">\n");
    b.append("<h4>").append(Html.escape(reportName(r))).append("</h4>\n");
    for (RecordComponent c : components(r)) {
      Object v = value(c, r);
      if (v instanceof Table t) {
        b.append("<h5>").append(Html.escape(c.getName())).append("</h5>\n").append(tableHtml(t));
      } else if (v instanceof Figure f) {
        b.append("<h5>").append(Html.escape(c.getName())).append("</h5>\n").append(figureHtml(f));
      }
    }
    return b.append("</div>\n").toString();
  }

  static String reportText(Report r) {
    StringBuilder b = new StringBuilder(reportName(r));
    for (RecordComponent c : components(r)) {
      Object v = value(c, r);
      if (v instanceof Table t) {
        b.append("\n").append(c.getName()).append(": ").append(t.rowCount()).append(" rows × ")
            .append(t.columnCount()).append(" columns");
      } else if (v instanceof Figure f) {
        b.append("\n").append(c.getName()).append(": ").append(figureText(f));
      }
    }
    return b.toString();
  }

  private static String reportName(Report r) {
    Class<?> c = r.getClass();
    return c.getEnclosingClass() == null
        ? c.getSimpleName()
        : c.getEnclosingClass().getSimpleName() + "." + c.getSimpleName();
  }

  private static RecordComponent[] components(Report r) {
    RecordComponent[] cs = r.getClass().getRecordComponents();
    return cs == null ? new RecordComponent[0] : cs;
  }

  private static Object value(RecordComponent c, Object r) {
    try {
      return c.getAccessor().invoke(r);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }
}
