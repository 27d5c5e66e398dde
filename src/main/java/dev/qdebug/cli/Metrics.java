package dev.qdebug.cli;

import dev.qdebug.UsageException;
import dev.qdebug.metrics.Metric;
import java.util.ArrayList;
import java.util.List;

/** Parsing of the {@code --metrics} and {@code --metric} options of the analysis commands. */
final class Metrics {
  private Metrics() {}

  /** The metrics named by {@code --metrics}, in order; an unknown name fails naming the option. */
  static List<Metric> parse(List<String> names) {
    List<Metric> ms = new ArrayList<>();
    for (String m : names) {
      Metric metric = parse(m, "--metrics");
      if (ms.contains(metric)) {
        throw new UsageException(
            "--metrics: '" + metric.label() + "' is given twice; name each metric once");
      }
      ms.add(metric);
    }
    return ms;
  }

  /** The metric named by {@code --metric}; an unknown name fails naming the option. */
  static Metric parse(String name) {
    return parse(name, "--metric");
  }

  private static Metric parse(String name, String option) {
    try {
      return Metric.parse(name);
    } catch (IllegalArgumentException e) {
      throw new UsageException(option + ": " + e.getMessage());
    }
  }
}
