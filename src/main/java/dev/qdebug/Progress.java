package dev.qdebug;

/**
 * Receives progress of long work (calibration, analyses): the command line draws a bar on the
 * terminal, the notebook an HTML bar. Implementations must be cheap; they are called once per
 * sample or step.
 */
@FunctionalInterface
public interface Progress {
  /**
   * Reports that {@code done} of {@code total} units of {@code task} are finished. Called with
   * {@code done == total} when the task ends.
   */
  void update(String task, long done, long total);

  /** Reports nothing. */
  Progress NONE = (task, done, total) -> {};
}
