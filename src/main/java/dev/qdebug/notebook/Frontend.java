package dev.qdebug.notebook;

/** The running kernel, as the notebook helpers need it: show a value, replace a shown value. */
interface Frontend {
  /** Renders {@code value} and shows it now, below the running cell; returns its display id. */
  String display(Object value);

  /** Replaces what display {@code id} shows with {@code value}, in place. */
  void updateDisplay(String id, Object value);
}
