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
    String div = "figure";
    return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
        + escape(title)
        + "</title>\n<script src=\""
        + plotlySrc
        + "\"></script></head>\n<body>\n"
        + figure.divString(div)
        + "\n"
        + figure.asJavascript(div)
        + "\n</body></html>\n";
  }

  /**
   * Writes {@code figure} as {@code file} (HTML). The page loads plotly.js from the nearest copy in
   * its folder or up to three folders above (a report keeps one at its root), else from a copy
   * written beside it.
   */
  public static void writeFigure(Path file, String title, Figure figure) {
    Path dir = file.toAbsolutePath().getParent();
    String js = null;
    Path d = dir;
    String up = "";
    for (int level = 0; level <= 3 && d != null && js == null; level++) {
      if (Files.exists(d.resolve(PLOTLY_FILE))) {
        js = up + PLOTLY_FILE;
      }
      d = d.getParent();
      up += "../";
    }
    if (js == null) {
      js = ensurePlotly(dir);
    }
    writeAtomically(file, page(title, figure, js));
  }

  /** A table as an HTML fragment. */
  public static String table(Table t) {
    StringBuilder b = new StringBuilder("<table class=\"qdebug\">\n<caption>");
    b.append(escape(t.name())).append("</caption>\n<tr>");
    for (String c : t.columnNames()) {
      b.append("<th>").append(escape(c)).append("</th>");
    }
    b.append("</tr>\n");
    for (int r = 0; r < t.rowCount(); r++) {
      b.append("<tr>");
      for (int c = 0; c < t.columnCount(); c++) {
        b.append("<td>").append(escape(t.getString(r, c))).append("</td>");
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
