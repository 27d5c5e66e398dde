package dev.qdebug.viz;

import dev.qdebug.QdebugException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;

/**
 * Offline HTML: figure pages that load plotly.js from a file next to them ({@value #PLOTLY_FILE},
 * copied once per folder from the jar), so pages open with no network; tables as HTML. The jar
 * carries plotly.js 2.35.3's minified cartesian bundle (scatter, bar, box and histogram traces,
 * 1.4 MB, MIT license beside it as {@value #PLOTLY_LICENSE_RESOURCE}), fetched from the npm registry
 * when qdebug is built. Files are written atomically.
 */
public final class Html {
  /** The plotly.js file name pages refer to. */
  public static final String PLOTLY_FILE = "plotly-cartesian-2.35.3.min.js";

  /** Where the jar holds plotly.js (put there by the build, see pom.xml). */
  public static final String PLOTLY_RESOURCE = "/dev/qdebug/viz/" + PLOTLY_FILE;

  /** plotly.js's license, beside it in the jar. */
  public static final String PLOTLY_LICENSE_RESOURCE = "/dev/qdebug/viz/plotly.js-LICENSE.txt";

  private Html() {}

  /** The plotly.js source (about 1.4 MB), from the classpath. */
  public static String plotlyJs() {
    try (InputStream in = Html.class.getResourceAsStream(PLOTLY_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("plotly.js is missing from the classpath: " + PLOTLY_RESOURCE);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Copies plotly.js into {@code dir} unless it is there already; returns its relative name. */
  public static String ensurePlotly(Path dir) {
    Path target = dir.resolve(PLOTLY_FILE);
    if (!Files.exists(target)) {
      dev.qdebug.AtomicFiles.write(
          target,
          out -> {
            try (InputStream in = Html.class.getResourceAsStream(PLOTLY_RESOURCE)) {
              in.transferTo(out);
            }
          });
    }
    return PLOTLY_FILE;
  }

  /** A page showing {@code figure}, loading plotly.js from {@code plotlySrc}. */
  public static String page(String title, Figure figure, String plotlySrc) {
    return page(title, figure, plotlySrc, null, null);
  }

  /**
   * A page showing {@code figure} under a heading (the figure's own title, else {@code title}),
   * with {@code explanation} (may be null) and a link back to {@code back} (may be null).
   */
  public static String page(
      String title, Figure figure, String plotlySrc, String explanation, String back) {
    String heading = figureTitle(figure);
    if (heading == null || heading.isBlank()) {
      heading = title;
    }
    StringBuilder b = new StringBuilder("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
        .append(escape(heading))
        .append("</title>\n<script src=\"")
        .append(plotlySrc)
        .append("\"></script>\n<style>")
        .append(STYLE)
        .append("</style></head>\n<body>\n");
    if (back != null) {
      b.append("<p class=\"back\"><a href=\"").append(escape(back)).append("\">← back to the report</a></p>\n");
    }
    b.append("<h1>").append(escape(heading)).append("</h1>\n");
    if (explanation != null && !explanation.isBlank()) {
      b.append("<p>").append(escape(explanation)).append("</p>\n");
    }
    b.append(figureDiv(figure, "figure"));
    return b.append("</body></html>\n").toString();
  }

  /** The figure's title in words (HTML escapes undone), or null. */
  public static String figureTitle(Figure figure) {
    String t = figure.getLayout() == null ? null : figure.getLayout().getTitle();
    if (t == null) {
      return null;
    }
    t = PlotlyJson.unescapeHtml(t);
    return figure instanceof Plot p && p.subtitle() != null ? t + " — " + p.subtitle() : t;
  }

  /** A div that draws {@code figure} with the page's plotly.js (loaded before this element). */
  public static String figureDiv(Figure figure, String id) {
    var json = PlotlyJson.tree(figure);
    return "<div id=\""
        + escape(id)
        + "\" class=\"qdebug-figure\" style=\"width:"
        + json.path("layout").path("width").asInt(PlotlyJson.MAX_WIDTH)
        + "px;height:"
        + json.path("layout").path("height").asInt(520)
        + "px\"></div>\n<script>\n(function () {\n  var f = "
        + PlotlyJson.scriptSafe(json)
        + ";\n  Plotly.newPlot(document.getElementById('"
        + escape(id)
        + "'), f.data, f.layout, {displaylogo: false});\n})();\n</script>\n";
  }

  /** Styles of qdebug's pages: readable widths, compact tables, numbers right-aligned. */
  public static final String STYLE =
      "body{font-family:sans-serif;margin:1.5em;max-width:62em;line-height:1.4}"
          + "h1{font-size:1.5em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}"
          + "table.qdebug{border-collapse:collapse;font-size:0.9em;margin:0.5em 0}"
          + "table.qdebug td,table.qdebug th{border:1px solid #ccc;padding:2px 8px;vertical-align:top}"
          + "table.qdebug td.num{text-align:right;font-variant-numeric:tabular-nums}"
          + "table.qdebug td.text,table.qdebug th{text-align:left}"
          + "table.qdebug caption{text-align:left;font-weight:bold;white-space:nowrap}"
          + ".verdict{border-left:6px solid #888;background:#f6f6f6;padding:0.6em 1em}"
          + ".verdict.ok{border-color:#2ca02c}.verdict.bad{border-color:#d62728}"
          + "p.back{font-size:0.9em}";

  /**
   * Writes {@code figure} as {@code file} (HTML). The page loads plotly.js from the nearest copy in
   * its folder or up to three folders above (a report keeps one at its root, and then the page
   * links back to the report's {@code index.html}), else from a copy written beside it.
   */
  public static void writeFigure(Path file, String title, Figure figure) {
    writeFigure(file, title, figure, null);
  }

  /** {@link #writeFigure(Path, String, Figure)} with one sentence on what the figure shows. */
  public static void writeFigure(Path file, String title, Figure figure, String explanation) {
    Path dir = file.toAbsolutePath().getParent();
    String js = null;
    String back = null;
    Path d = dir;
    String up = "";
    for (int level = 0; level <= 3 && d != null && js == null; level++) {
      if (Files.exists(d.resolve(PLOTLY_FILE))) {
        js = up + PLOTLY_FILE;
        back = level > 0 ? up + "index.html" : null;
      }
      d = d.getParent();
      up += "../";
    }
    if (js == null) {
      js = ensurePlotly(dir);
    }
    writeAtomically(file, page(title, figure, js, explanation, back));
  }

  /** Text cells longer than this are shortened in HTML tables (the full text shows on hover). */
  public static final int MAX_CELL = 60;

  /**
   * A table as an HTML fragment: numbers to {@value Fmt#DIGITS} significant digits (right-aligned),
   * text left-aligned, very long text shortened with the full text on hover.
   */
  /**
   * A long cell for display: prose (it has spaces: evidence, fixes with their gains) keeps its
   * start, where the most important comes first; a name (a node or tensor path) keeps its end,
   * where names differ.
   */
  static String shorten(String s) {
    return s.indexOf(' ') >= 0
        ? s.substring(0, MAX_CELL - 1) + "…"
        : "…" + s.substring(s.length() - (MAX_CELL - 1));
  }

  public static String table(Table t) {
    StringBuilder b = new StringBuilder("<table class=\"qdebug\">\n<caption>");
    b.append(escape(t.name())).append("</caption>\n<tr>");
    for (String c : t.columnNames()) {
      b.append("<th style=\"text-align:left\">").append(escape(c)).append("</th>");
    }
    b.append("</tr>\n");
    for (int r = 0; r < t.rowCount(); r++) {
      b.append("<tr>");
      for (int c = 0; c < t.columnCount(); c++) {
        Object v = t.get(r, c);
        if (v instanceof Number n) {
          b.append("<td class=\"num\">").append(escape(Fmt.num(n))).append("</td>");
        } else {
          String s = t.getString(r, c);
          if (s.length() > MAX_CELL) {
            b.append("<td class=\"text\" style=\"text-align:left\" title=\"").append(escape(s)).append("\">")
                .append(escape(shorten(s)));
          } else {
            b.append("<td class=\"text\" style=\"text-align:left\">").append(escape(s));
          }
          b.append("</td>");
        }
      }
      b.append("</tr>\n");
    }
    return b.append("</table>\n").toString();
  }

  /** Writes {@code t} as CSV (header = column names). */
  public static void writeCsv(Path file, Table t) {
    StringBuilder b = new StringBuilder(String.join(",", t.columnNames())).append('\n');
    for (int r = 0; r < t.rowCount(); r++) {
      for (int c = 0; c < t.columnCount(); c++) {
        if (c > 0) {
          b.append(',');
        }
        b.append(csv(t.get(r, c)));
      }
      b.append('\n');
    }
    writeAtomically(file, b.toString());
  }

  private static String csv(Object v) {
    if (v == null) {
      return "";
    }
    if (v instanceof Double d) {
      return Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "inf" : "-inf") : Double.toString(d);
    }
    String s = v.toString();
    return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
  }

  public static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }

  /** Writes {@code text} (UTF-8) to {@code file} atomically. */
  public static void writeAtomically(Path file, String text) {
    dev.qdebug.AtomicFiles.write(file, text.getBytes(StandardCharsets.UTF_8));
  }
}
