package dev.qdebug.notebook;

import dev.qdebug.Progress;
import dev.qdebug.viz.Html;
import java.util.Locale;

/**
 * A progress bar in a notebook: one HTML display per cell, created at the cell's first update and
 * replaced in place ({@code update_display_data}) after that, at most every 200 ms and whenever a
 * task ends. A bar kept in a variable and used again by a later cell starts a new display below
 * that cell. A task's time counts from the display's creation, or from the previous task's last
 * update in the same cell. Safe to call from several threads.
 */
final class NotebookProgress implements Progress {
  private static final long MIN_INTERVAL_NANOS = 200_000_000L;

  private final Frontend frontend;
  private String id;
  private long cell;
  private String task;
  private long taskStarted;
  private long lastDraw;

  NotebookProgress(Frontend frontend) {
    this.frontend = frontend;
    this.taskStarted = System.nanoTime();
  }

  @Override
  public synchronized void update(String task, long done, long total) {
    long now = System.nanoTime();
    boolean finished = done >= total;
    long current = frontend.cell();
    if (id != null && current != cell) {
      id = null; // a later cell: its own bar
      this.task = null;
      taskStarted = now;
    }
    if (!task.equals(this.task)) {
      if (this.task != null) {
        taskStarted = lastDraw; // a new task starts where the last one was last heard of
      }
      this.task = task;
    } else if (!finished && now - lastDraw < MIN_INTERVAL_NANOS) {
      return;
    }
    lastDraw = now;
    HtmlFragment bar = bar(task, done, total, (now - taskStarted) / 1e9);
    if (id == null) {
      id = frontend.display(bar);
      cell = current;
    } else {
      frontend.updateDisplay(id, bar);
    }
  }

  static HtmlFragment bar(String task, long done, long total, double seconds) {
    boolean finished = done >= total;
    long max = Math.max(1, total);
    long value = Math.min(Math.max(0, done), max);
    String status =
        finished
            ? String.format(Locale.ROOT, "%s: %d/%d done in %.1f s", task, done, total, seconds)
            : String.format(
                Locale.ROOT, "%s: %d/%d (%d%%) %.1f s", task, done, total, 100 * value / max, seconds);
    String html =
        "<div class=\"qdebug-progress\" style=\"font-family:monospace\">"
            + "<progress value=\""
            + value
            + "\" max=\""
            + max
            + "\" style=\"width:320px;vertical-align:middle\"></progress> "
            + Html.escape(status)
            + "</div>";
    return new HtmlFragment(html, status);
  }
}
