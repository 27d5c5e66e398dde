package dev.qdebug.debug;

import java.nio.file.Path;

/** An analysis result that can write its tables (CSV) and figures (offline HTML) to a folder. */
public interface Report {
  /** Writes every table and figure of this result into {@code dir} (created if needed). */
  void save(Path dir);
}
