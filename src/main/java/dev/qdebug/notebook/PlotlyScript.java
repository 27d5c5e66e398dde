package dev.qdebug.notebook;

import dev.qdebug.viz.Html;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * plotly.js inside the notebook: the first figure of a kernel session carries the whole library
 * (the pinned 2.35.3 cartesian bundle from qdebug's jar, about 1.4 MB) so notebooks draw with no network, live and
 * in exported HTML; later figures use the {@code window.Plotly} it defined. The library is wrapped
 * so that it sets {@code window.Plotly} even where require.js is on the page (classic Notebook,
 * nbconvert's HTML), which otherwise makes plotly.js 2 register as an AMD module instead.
 */
final class PlotlyScript {
  private static final AtomicBoolean EMBEDDED = new AtomicBoolean();

  private PlotlyScript() {}

  /** True exactly once per session (again after {@link #reset()}): this figure must embed it. */
  static boolean claimEmbedding() {
    return EMBEDDED.compareAndSet(false, true);
  }

  /** The next figure embeds plotly.js again (for a page reloaded while the kernel ran on). */
  static void reset() {
    EMBEDDED.set(false);
  }

  /** A {@code <script>} element that defines {@code window.Plotly}. */
  static String embedded() {
    String js = Html.plotlyJs().replaceAll("(?i)</script", "<\\\\/script");
    return "<script type=\"text/javascript\">/* plotly.js, embedded once per qdebug kernel session */\n"
        + "(function () {\n"
        + "var qdebugDefine = window.define;\n"
        + "window.define = undefined;\n"
        + "try {\n"
        + js
        + "\n} finally {\n"
        + "window.define = qdebugDefine;\n"
        + "}\n"
        + "})();\n"
        + "</script>\n";
  }
}
