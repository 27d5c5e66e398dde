package dev.qdebug.cli;

import dev.qdebug.Progress;
import java.io.PrintWriter;

/**
 * A progress bar on the terminal's error stream: redrawn in place ({@code \r}) at most every
 * 100 ms and on completion, so logs stay short when stderr is a file.
 */
final class TerminalProgress implements Progress {
  private static final int WIDTH = 30;
  private final PrintWriter err;
  private final long started = System.nanoTime();
  private long lastDraw;
  private String lastTask;

  TerminalProgress(PrintWriter err) {
    this.err = err;
  }

  /** Whether a bar was left unfinished on its line (an error then starts on a new line). */
  static volatile boolean midLine;

  @Override
  public void update(String task, long done, long total) {
    long now = System.nanoTime();
    boolean finished = done >= total;
    if (!finished && task.equals(lastTask) && now - lastDraw < 100_000_000L) {
      return;
    }
    lastDraw = now;
    lastTask = task;
    int filled = total <= 0 ? WIDTH : (int) (WIDTH * Math.min(done, total) / total);
    double secs = (now - started) / 1e9;
    err.printf(
        "\r%-24s [%s%s] %d/%d  %.1fs",
        task, "#".repeat(filled), ".".repeat(WIDTH - filled), done, total, secs);
    if (finished) {
      err.println();
    }
    midLine = !finished;
    err.flush();
  }
}
