package dev.qdebug.cli;

import dev.qdebug.UsageException;
import dev.qdebug.debug.AccumulatedError;
import dev.qdebug.debug.Debugger;
import dev.qdebug.metrics.Metric;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code plot-acc-error}: accumulated error curves. */
@Command(
    name = "plot-acc-error",
    description = {
      "Accumulated error curves: the error of every normal node's output, in graph order, for"
          + " test models that quantize or leave in float chosen nodes.",
      "Without --quantize-node and --non-quantize-node: --quantize-node weight,activation."
    })
public final class PlotAccErrorCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin AnalysisOptions analysis;

  @Option(
      names = "--quantize-node",
      split = ",",
      description =
          "weight and/or activation (the split of the calibrated model's error), or nodes each"
              + " quantized alone; a+b quantizes a and b together and makes every item a partial"
              + " model (Horizon's nested list)")
  List<String> quantize;

  @Option(
      names = "--non-quantize-node",
      split = ",",
      description =
          "nodes each left in float in the calibrated model; a+b leaves a and b in float together"
              + " and makes every item a partial model, e.g. a,a+b")
  List<String> nonQuantize;

  @Option(
      names = "--metric",
      defaultValue = "cosine-similarity",
      description = "cosine-similarity, mse, mre, sqnr or chebyshev")
  String metric;

  @Option(names = "--average-mode", description = "plot running means y'[i] = mean(y[0..i])")
  boolean averageMode;

  @Mixin AnalysisOptions.DataNum dataNum = new AnalysisOptions.DataNum(1);

  @Mixin AnalysisOptions.SaveDir saveDir;

  /** Items of a node option: groups when any item is {@code a+b}, else one node each. */
  record Groups(List<List<String>> groups, boolean nested) {}

  static Groups parse(List<String> items, String option) {
    List<List<String>> groups = new ArrayList<>();
    boolean nested = false;
    for (String item : items) {
      String s = item.strip();
      nested |= s.contains("+");
      List<String> g = new ArrayList<>();
      for (String n : s.split("\\+", -1)) {
        if (n.isBlank()) {
          throw new UsageException(option + ": empty node name in '" + item + "'");
        }
        g.add(n.strip());
      }
      groups.add(g);
    }
    return new Groups(groups, nested);
  }

  @Override
  public Integer call() {
    Metric m = Metrics.parse(metric);
    AccumulatedError.Options o =
        AccumulatedError.Options.defaults()
            .metric(m)
            .averageMode(averageMode)
            .dataNum(dataNum.get());
    if (quantize == null && nonQuantize == null) {
      o = o.quantizeNode(List.of(AccumulatedError.WEIGHT, AccumulatedError.ACTIVATION));
    } else {
      o = o.quantizeNode(List.of());
      if (quantize != null) {
        Groups g = parse(quantize, "--quantize-node");
        o = g.nested() ? o.quantizeNodeGroups(g.groups()) : o.quantizeNode(flat(g));
      }
      if (nonQuantize != null) {
        Groups g = parse(nonQuantize, "--non-quantize-node");
        o = g.nested() ? o.nonQuantizeNodeGroups(g.groups()) : o.nonQuantizeNode(flat(g));
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    try (Debugger dbg = analysis.open()) {
      AccumulatedError.Result r = dbg.plotAccError(o);
      saveDir.save(r);
      for (AccumulatedError.Plot p : r.plots()) {
        out.println(p.prefix() + " (" + r.points().size() + " points)");
        for (String c : p.curves()) {
          double[] y = p.curve(c);
          int worst = -1;
          for (int i = 0; i < y.length; i++) {
            if (!Double.isNaN(y[i]) && (worst < 0 || m.worse(y[i], y[worst]))) {
              worst = i;
            }
          }
          out.printf(
              Locale.ROOT,
              "  %-40s last %12.6f  worst %12.6f at %s%n",
              c,
              y.length == 0 ? Double.NaN : y[y.length - 1],
              worst < 0 ? Double.NaN : y[worst],
              worst < 0 ? "-" : r.points().get(worst).node());
        }
        out.println(
            "  wrote "
                + saveDir.resolve(p.fileStem() + ".html")
                + ", "
                + saveDir.resolve(p.fileStem() + ".csv"));
      }
    }
    return 0;
  }

  private static List<String> flat(Groups g) {
    return g.groups().stream().map(x -> x.get(0)).toList();
  }
}
