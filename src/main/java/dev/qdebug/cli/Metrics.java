package dev.qdebug.cli;

import dev.qdebug.UsageException;
import dev.qdebug.metrics.Metric;
import java.util.ArrayList;
import java.util.List;

/** Parsing of the {@code --metrics} option shared by the analysis commands. */
final class Metrics {
  private Metrics() {}

  /** The metrics named by {@code --metrics}, in order; an unknown name fails naming the option. */
  static List<Metric> parse(List<String> names) {
    List<Metric> ms = new ArrayList<>();
    for (String m : names) {
      try {
        ms.add(Metric.parse(m));
      } catch (IllegalArgumentException e) {
        throw new UsageException("--metrics: " + e.getMessage());
      }
    }
    return ms;
  }
}
