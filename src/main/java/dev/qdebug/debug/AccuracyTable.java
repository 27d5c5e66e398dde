package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.SampleSet;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.viz.Figures;
import dev.qdebug.viz.Html;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Axis;
import tech.tablesaw.plotly.components.Figure;
import tech.tablesaw.plotly.components.Layout;
import tech.tablesaw.plotly.components.Margin;
import tech.tablesaw.plotly.traces.BarTrace;
import tech.tablesaw.plotly.traces.Trace;

/**
 * The tutorial's accuracy table (beyond Horizon's tool, which leaves it to the user): top-1 on a
 * labeled set of the float model, the calibrated model, and the calibrated model with its {@code
 * k} most sensitive nodes left in float, for each requested {@code k}. One row per variant:
 * {@code model, strategy, float-accuracy, calibration-method, quantized-accuracy,
 * percent-of-float}, plus how many nodes and calibration nodes each leaves in float.
 *
 * <p>"Left in float" has Horizon's meaning: the calibration nodes on the inputs of those nodes are
 * switched off (a blacklist model). {@link AutoPartialQuantization} searches the smallest such
 * {@code k} for a target; this table shows the chosen points side by side.
 */
public final class AccuracyTable {
  /**
   * Options.
   *
   * @param dataset labeled data ({@code DIR/labels.npy} beside the samples)
   * @param topK the numbers of most sensitive nodes to leave in float, one row each (0 is the
   *     calibrated model, always shown)
   * @param sensitiveNodes the ranking, most sensitive first; null to rank every normal node with
   *     {@link NodeSensitivity} on {@code dataNum} calibration samples
   * @param dataNum calibration samples for the ranking (0: all)
   * @param evalNum the first N labeled samples (0: all)
   * @param floatAccuracy the float model's top-1 on the same samples when already known (saves one
   *     accuracy run); null to compute it
   */
  public record Options(
      Path dataset,
      List<Integer> topK,
      List<String> sensitiveNodes,
      int dataNum,
      int evalNum,
      Double floatAccuracy) {
    public Options {
      topK = List.copyOf(topK);
      for (int k : topK) {
        if (k < 0) {
          throw new UsageException("--top-k: " + k + " is negative");
        }
      }
      if (sensitiveNodes != null) {
        sensitiveNodes = List.copyOf(sensitiveNodes);
      }
      if (evalNum < 0) {
        throw new UsageException("--eval-num: " + evalNum + " is negative");
      }
    }

    /** Float and calibrated only, every labeled sample, ranking on all calibration samples. */
    public static Options of(Path dataset) {
      return new Options(dataset, List.of(), null, 0, 0, null);
    }

    public Options topK(List<Integer> ks) {
      return new Options(dataset, ks, sensitiveNodes, dataNum, evalNum, floatAccuracy);
    }

    public Options topK(Integer... ks) {
      return topK(List.of(ks));
    }

    public Options sensitiveNodes(List<String> nodes) {
      return new Options(dataset, topK, nodes, dataNum, evalNum, floatAccuracy);
    }

    public Options dataNum(int n) {
      return new Options(dataset, topK, sensitiveNodes, n, evalNum, floatAccuracy);
    }

    public Options floatAccuracy(Double top1) {
      return new Options(dataset, topK, sensitiveNodes, dataNum, evalNum, top1);
    }

    public Options evalNum(int n) {
      return new Options(dataset, topK, sensitiveNodes, dataNum, n, floatAccuracy);
    }
  }

  /**
   * The table and its bar chart.
   *
   * @param table one row per variant, float first
   * @param figure accuracy per variant, with the float accuracy and 99% of it as lines
   */
  public record Result(Table table, Figure figure, Options options) implements Report {
    /** Top-1 of the float model. */
    public double floatAccuracy() {
      return table.doubleColumn("float-accuracy").get(0);
    }

    /** Top-1 of the row whose strategy is {@code strategy}. */
    public double accuracy(String strategy) {
      List<String> s = table.stringColumn("strategy").asList();
      int row = s.indexOf(strategy);
      if (row < 0) {
        throw new IllegalArgumentException("no strategy '" + strategy + "'; have " + s);
      }
      return table.doubleColumn("quantized-accuracy").get(row);
    }

    /** Top-1 of the calibrated model (every calibration node on). */
    public double calibratedAccuracy() {
      return table.doubleColumn("quantized-accuracy").get(1);
    }

    /** Writes {@code accuracy.csv} and {@code accuracy.html}. */
    @Override
    public void save(Path dir) {
      Html.writeCsv(dir.resolve("accuracy.csv"), table);
      Html.writeFigure(dir.resolve("accuracy.html"), "accuracy", figure,
          "Top-1 accuracy of the float model, the calibrated model, and the calibrated model with its"
              + " most sensitive nodes left in float, against the 99% of float target.");
    }
  }

  /** The strategy label of a variant that leaves the {@code k} most sensitive nodes in float. */
  public static String strategy(int k) {
    return k == 0 ? CALIBRATED : "top " + k + " sensitive node" + (k == 1 ? "" : "s") + " in float";
  }

  /** The strategy label of the float model. */
  public static final String FLOAT = "float";

  /** The strategy label of the calibrated model. */
  public static final String CALIBRATED = "calibrated";

  private AccuracyTable() {}

  /** Evaluates the float, calibrated and top-k-in-float variants of {@code model}. */
  public static Result run(
      CalibratedModel model, SampleSet calibration, Options o, Progress progress) {
    SampleSet labeled = SampleSet.open(o.dataset(), model.floatModel().inputs());
    labeled.labels(); // fails early, naming the file, when there are none
    int evalNum = o.evalNum();
    if (evalNum > labeled.size()) {
      throw new UsageException(
          "--eval-num: " + evalNum + " samples asked, " + o.dataset() + " has " + labeled.size());
    }
    Set<Integer> ks = new LinkedHashSet<>();
    ks.add(0);
    ks.addAll(o.topK().stream().sorted().toList());
    int kmax = ks.stream().mapToInt(i -> i).max().orElse(0);
    List<String> ranking = List.of();
    if (kmax > 0) {
      ranking =
          o.sensitiveNodes() != null
              ? o.sensitiveNodes()
              : NodeSensitivity.run(
                      model,
                      calibration,
                      NodeSensitivity.Options.defaults()
                          .dataNum(PartialModels.sampleCount(calibration, o.dataNum())),
                      progress)
                  .ranking();
      if (kmax > ranking.size()) {
        throw new UsageException(
            "--top-k: " + kmax + " nodes asked, the ranking has " + ranking.size());
      }
    }
    String name = PartialModels.modelName(model);
    String method = PartialModels.methodLabel(model);
    StringColumn mc = StringColumn.create("model");
    StringColumn sc = StringColumn.create("strategy");
    DoubleColumn fc = PartialModels.fixed("float-accuracy", 4);
    StringColumn cm = StringColumn.create("calibration-method");
    DoubleColumn qc = PartialModels.fixed("quantized-accuracy", 4);
    DoubleColumn pc = PartialModels.fixed("percent-of-float", 2);
    IntColumn nodes = IntColumn.create("nodes-in-float");
    IntColumn cals = IntColumn.create("calibration-nodes-off");
    int n = evalNum > 0 ? evalNum : labeled.size();
    int floatRuns = o.floatAccuracy() == null ? 1 : 0;
    long total = (long) n * (ks.size() + floatRuns);
    double floatAcc =
        o.floatAccuracy() != null
            ? o.floatAccuracy()
            : Accuracy.top1(model, labeled, Set.of(), evalNum, offset(progress, 0, total));
    mc.append(name);
    sc.append(FLOAT);
    fc.append(floatAcc);
    cm.append("-");
    qc.append(floatAcc);
    pc.append(100.0);
    nodes.append(model.nodes().isEmpty() ? 0 : PartialModels.normalNodes(model).size());
    cals.append(model.nodes().size());
    int variant = 0;
    for (int k : ks) {
      variant++;
      Set<String> off =
          PartialModels.calibrationsOf(
              model, ranking.subList(0, k), o.sensitiveNodes() != null ? "--sensitive-nodes" : "--top-k");
      Set<String> on = PartialModels.blacklist(model, off);
      double acc =
          Accuracy.top1(model, labeled, on, evalNum, offset(progress, (long) (variant - 1 + floatRuns) * n, total));
      mc.append(name);
      sc.append(strategy(k));
      fc.append(floatAcc);
      cm.append(method);
      qc.append(acc);
      pc.append(100 * acc / floatAcc);
      nodes.append(k);
      cals.append(model.nodes().size() - on.size());
    }
    Table t =
        Table.create("accuracy (top-1 on " + describe(labeled, evalNum) + ")", mc, sc, fc, cm, qc, pc, nodes, cals);
    return new Result(t, figure(t, floatAcc), o);
  }

  /** Reports one variant's samples as part of the whole table's. */
  private static Progress offset(Progress p, long before, long total) {
    return (task, done, ignored) -> p.update("accuracy", before + done, total);
  }

  private static String describe(SampleSet labeled, int evalNum) {
    int n = evalNum > 0 ? evalNum : labeled.size();
    return n + " samples of " + labeled.dir().getFileName();
  }

  private static Figure figure(Table t, double floatAcc) {
    String[] x = t.stringColumn("strategy").asObjectArray();
    double[] y = t.doubleColumn("quantized-accuracy").asDoubleArray();
    List<Trace> traces = new ArrayList<>();
    traces.add(
        BarTrace.builder(t.stringColumn("strategy"), t.doubleColumn("quantized-accuracy"))
            .name("top-1 accuracy")
            .showLegend(true)
            .build());
    traces.add(Figures.reference("float " + pct(floatAcc), x, floatAcc));
    traces.add(Figures.reference("99% of float " + pct(0.99 * floatAcc), x, 0.99 * floatAcc));
    double highest = java.util.Arrays.stream(y).max().orElse(floatAcc);
    // bars from zero (a bar's length is its accuracy); the legend and hover give the numbers
    Layout layout =
        Layout.builder("Top-1 accuracy of each variant, " + t.name().replaceFirst("^accuracy \\(top-1 on (.*)\\)$", "$1"))
            .xAxis(Axis.builder().title("variant").type(Axis.Type.CATEGORY).build())
            .yAxis(Axis.builder().title("top-1 accuracy").range(0, Math.min(1, Math.max(highest, floatAcc) * 1.08)).build())
            .showLegend(true)
            .margin(Margin.builder().bottom(160).build())
            .height(520)
            .width(900)
            .build();
    return new dev.qdebug.viz.Plot(layout, traces.toArray(Trace[]::new));
  }

  private static String pct(double v) {
    return String.format(Locale.ROOT, "%.2f%%", 100 * v);
  }
}
