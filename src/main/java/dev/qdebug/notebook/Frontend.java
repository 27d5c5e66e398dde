package dev.qdebug.notebook;

/** The running kernel, as the notebook helpers need it: show a value, replace a shown value. */
interface Frontend {
  /** Renders {@code value} and shows it now, below the running cell; returns its display id. */
  String display(Object value);

  /** Replaces what display {@code id} shows with {@code value}, in place. */
  void updateDisplay(String id, Object value);

  /**
   * Which cell execution is running (the kernel's execution count), or -1 where the kernel does
   * not say: a progress bar made in one cell and used in a later one starts a new display there.
   */
  default long cell() {
    return -1;
  }
}
