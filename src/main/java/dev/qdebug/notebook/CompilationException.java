package dev.qdebug.notebook;

import java.util.List;

/** A cell that does not compile: every diagnostic, each with its line of the cell. */
final class CompilationException extends RuntimeException {
  private final List<String> report;

  CompilationException(String message, List<String> report) {
    super(message);
    this.report = List.copyOf(report);
  }

  /** Lines that show each error under the source line it is about. */
  List<String> report() {
    return report;
  }
}
