package dev.qdebug.notebook;

/** The cell was interrupted (the notebook's stop button, or a time limit). */
final class CellInterruptedException extends RuntimeException {
  CellInterruptedException() {
    super("the cell was interrupted");
  }
}
