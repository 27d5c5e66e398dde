package dev.qdebug.cli;

import dev.qdebug.Progress;
import java.io.PrintWriter;

/**
 * Progress on the error stream. On a terminal, a bar redrawn in place ({@code \r}) at most every
 * 100 ms and on completion. Written to a file or a pipe (a CI log, {@code 2> log}), one plain line
 * per tenth of the work or every 30 seconds, whichever comes first, and one at completion: a log
 * of a 10,000-image evaluation holds about a dozen lines, not thousands of redraws.
 */
final class TerminalProgress implements Progress {
  private static final int WIDTH = 30;
  private static final long REDRAW_NS = 100_000_000L;
  private static final long LOG_NS = 30_000_000_000L;
  private final PrintWriter err;
  private final boolean inPlace;
  private final long started = System.nanoTime();
  private long lastDraw;
  private long lastTenth = -1;
  private String lastTask;

  TerminalProgress(PrintWriter err) {
    this(err, System.console() != null);
  }

  /** {@code inPlace}: redraw one line (a terminal) rather than append lines (a log). */
  TerminalProgress(PrintWriter err, boolean inPlace) {
    this.err = err;
    this.inPlace = inPlace;
  }

  /** Whether a bar was left unfinished on its line (an error then starts on a new line). */
  static volatile boolean midLine;

  @Override
  public void update(String task, long done, long total) {
    long now = System.nanoTime();
    boolean finished = done >= total;
    boolean sameTask = task.equals(lastTask);
    long tenth = total <= 0 ? 10 : 10 * Math.min(done, total) / total;
    if (!finished && sameTask) {
      if (inPlace ? now - lastDraw < REDRAW_NS : tenth == lastTenth && now - lastDraw < LOG_NS) {
        return;
      }
    }
    lastDraw = now;
    lastTask = task;
    lastTenth = tenth;
    int filled = total <= 0 ? WIDTH : (int) (WIDTH * Math.min(done, total) / total);
    double secs = (now - started) / 1e9;
    String bar =
        String.format(
            "%-24s [%s%s] %d/%d  %.1fs",
            task, "#".repeat(filled), ".".repeat(WIDTH - filled), done, total, secs);
    if (inPlace) {
      err.print("\r" + bar);
      if (finished) {
        err.println();
      }
      midLine = !finished;
    } else {
      err.println(bar);
    }
    err.flush();
  }
}
