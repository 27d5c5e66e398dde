package dev.qdebug.notebook;

import dev.qdebug.Progress;
import dev.qdebug.viz.Html;

/**
 * Helpers for notebook cells: show values, show HTML, a progress bar for long analyses. qdebug's
 * kernel imports them all ({@code import static dev.qdebug.notebook.Notebook.*}); in a stock
 * IJava or jjava kernel, add the jar and call {@link #install()} once:
 *
 * <pre>{@code
 * %jars /path/to/qdebug.jar
 * dev.qdebug.notebook.Notebook.install();
 * try (var dbg = dev.qdebug.debug.Debugger.open(Path.of("cal.onnx"), Path.of("calibration"))) {
 *   dbg.progress(dev.qdebug.notebook.Notebook.notebookProgress());
 *   dbg.getSensitivityOfNodes().table()     // rendered as an HTML table
 * }
 * }</pre>
 */
public final class Notebook {
  private Notebook() {}

  /**
   * Registers qdebug's renderers (Tablesaw tables, Plotly figures, analysis results, {@link
   * HtmlFragment}) with the kernel running in this JVM. qdebug's kernel, and a jjava kernel that
   * loaded the jar with {@code %classpath}/{@code %jars}, have done so already; calling it again
   * does nothing.
   *
   * @throws IllegalStateException if no IJava or jjava kernel runs in this JVM
   */
  public static void install() {
    var jjava = JJavaFrontend.find();
    if (jjava.isPresent()) {
      Renderers.register(jjava.get().kernel().getRenderer());
      return;
    }
    IJavaFrontend.find().orElseThrow(Notebook::noKernel).registerRenderers();
  }

  /**
   * Shows {@code value} below the running cell now, rendered as the cell's last expression would
   * be; returns the display id for {@link #updateDisplay(String, Object)}.
   *
   * @throws IllegalStateException outside a notebook kernel
   */
  public static String display(Object value) {
    return frontend().display(value);
  }

  /**
   * Replaces what display {@code id} shows with {@code value}, in place.
   *
   * @throws IllegalStateException outside a notebook kernel
   */
  public static void updateDisplay(String id, Object value) {
    frontend().updateDisplay(id, value);
  }

  /** {@code html} as a value that notebooks show as HTML (unchanged: escape what you insert). */
  public static HtmlFragment html(String html) {
    return new HtmlFragment(html, html.replaceAll("<[^>]*>", "").strip());
  }

  /**
   * A progress bar for long work ({@code dbg.progress(notebookProgress())}): one HTML display
   * below the cell, updated in place at most five times a second and when a task ends.
   *
   * @throws IllegalStateException outside a notebook kernel
   */
  public static Progress notebookProgress() {
    return new NotebookProgress(frontend());
  }

  /**
   * Makes the next figure carry plotly.js again. Figures use the plotly.js that the session's first
   * figure brought into the page; after reloading the page (or clearing that output) while the
   * kernel runs on, call this and run the figure's cell again.
   */
  public static void reloadPlotly() {
    PlotlyScript.reset();
  }

  /** Escapes {@code text} for use inside HTML. */
  public static String escape(String text) {
    return Html.escape(text);
  }

  static Frontend frontend() {
    var jjava = JJavaFrontend.find();
    if (jjava.isPresent()) {
      return jjava.get();
    }
    if (IJavaFrontend.find().isPresent()) {
      install();
      return IJavaFrontend.find().orElseThrow(Notebook::noKernel);
    }
    throw noKernel();
  }

  private static IllegalStateException noKernel() {
    return new IllegalStateException(
        "no notebook kernel runs in this JVM: these helpers work in qdebug's kernel"
            + " (java -jar qdebug.jar kernel install) or in IJava/jjava after %jars qdebug.jar");
  }
}
