package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.Plan;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Snapshot;
import dev.qdebug.metrics.Metric;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.TensorKind;
import dev.qdebug.viz.Figures;
import dev.qdebug.viz.Html;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;

/**
 * {@code get_sensitivity_of_nodes}: how much the outputs move when one candidate alone is
 * quantized, everything else float, ranked most sensitive first (Horizon's semantics, reference
 * a.5). A candidate is a normal node (all calibration nodes on its inputs), a weight or an
 * activation calibration node, or a group of names quantized together ({@code a+b}). Each output
 * tensor is scored per sample with each metric, NaN samples dropped, averaged over samples, then
 * over output tensors; sorted by the first metric, worst first, NaN last.
 *
 * <p>Beyond Horizon: any number of samples (Horizon's code default is 1), the worst sample and the
 * 5th-percentile sample beside the mean, and speed: the float run is done once per batch of
 * samples, and each candidate re-runs only the graph downstream of its calibration nodes.
 */
public final class NodeSensitivity {
  /** Which candidates are ranked (Horizon's {@code node_type}). */
  public enum NodeType {
    NODE,
    WEIGHT,
    ACTIVATION;

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }

    public static NodeType parse(String s) {
      for (NodeType t : values()) {
        if (t.label().equalsIgnoreCase(s.strip())) {
          return t;
        }
      }
      throw new UsageException("--node-type: '" + s + "' is not one of node, weight, activation");
    }
  }

  /**
   * Options.
   *
   * @param nodeType candidates when {@code interestedNodes} is null
   * @param metrics all are computed; the first sorts
   * @param interestedNodes groups of node or calibration-node names, each quantized together as
   *     one candidate (a group of one is a single node); null to use {@code nodeType}
   * @param outputNodes nodes whose outputs are compared; empty for the graph outputs
   * @param dataNum the first N samples; 0 for all
   */
  public record Options(
      NodeType nodeType,
      List<Metric> metrics,
      List<List<String>> interestedNodes,
      List<String> outputNodes,
      int dataNum) {
    public Options {
      if (metrics.isEmpty()) {
        throw new UsageException("--metrics: give at least one metric");
      }
      metrics = List.copyOf(metrics);
      outputNodes = List.copyOf(outputNodes);
    }

    /** Horizon's defaults: nodes, cosine similarity, graph outputs, the first sample. */
    public static Options defaults() {
      return new Options(NodeType.NODE, List.of(Metric.COSINE_SIMILARITY), null, List.of(), 1);
    }

    public Options nodeType(NodeType t) {
      return new Options(t, metrics, interestedNodes, outputNodes, dataNum);
    }

    public Options metrics(List<Metric> m) {
      return new Options(nodeType, m, interestedNodes, outputNodes, dataNum);
    }

    public Options interestedNodes(List<List<String>> groups) {
      return new Options(nodeType, metrics, groups, outputNodes, dataNum);
    }

    public Options outputNodes(List<String> nodes) {
      return new Options(nodeType, metrics, interestedNodes, nodes, dataNum);
    }

    public Options dataNum(int n) {
      return new Options(nodeType, metrics, interestedNodes, outputNodes, n);
    }
  }

  /** A candidate: its name and the calibration nodes switched on to quantize it. */
  public record Candidate(String name, String type, List<String> calibrationNodes) {}

  /**
   * The ranking.
   *
   * @param table {@code node} then one column per metric, most sensitive first
   * @param detail per candidate: type, calibration nodes, and for the first metric the mean, the
   *     worst sample and the 5th-percentile sample
   * @param figure the first metric per candidate, in ranking order
   */
  public record Result(Table table, Table detail, Figure figure, Options options) implements Report {
    /** Candidate names, most sensitive first. */
    public List<String> ranking() {
      return table.stringColumn("node").asList();
    }

    /** The score of {@code candidate} by {@code metric}. */
    public double score(String candidate, Metric metric) {
      int row = ranking().indexOf(candidate);
      if (row < 0) {
        throw new IllegalArgumentException("no candidate '" + candidate + "'");
      }
      Double v = table.doubleColumn(metric.label()).get(row); // NaN is stored as missing
      return v == null ? Double.NaN : v;
    }

    @Override
    public void save(Path dir) {
      Html.writeCsv(dir.resolve("node_sensitivity.csv"), table);
      Html.writeCsv(dir.resolve("node_sensitivity_detail.csv"), detail);
      Html.writeFigure(dir.resolve("node_sensitivity.html"), "node sensitivity", figure,
          "Each node quantized alone (everything else float): how far the model's output moves."
              + " The most sensitive nodes come first; the full ranking is in the CSV.");
    }
  }

  private NodeSensitivity() {}

  /** The candidates {@code o} selects in {@code model}, in graph order. */
  /** Nodes drawn in the ranking figure (the table and CSV hold all). */
  public static final int FIGURE_TOP = 30;

  public static List<Candidate> candidates(CalibratedModel model, Options o) {
    List<Candidate> out = new ArrayList<>();
    if (o.interestedNodes() != null) {
      for (List<String> group : o.interestedNodes()) {
        Set<String> cal = new LinkedHashSet<>();
        for (String n : group) {
          model.calibrationsOf(n).forEach(c -> cal.add(c.name()));
        }
        out.add(new Candidate(String.join("+", group), group.size() == 1 ? "interested" : "group", List.copyOf(cal)));
      }
      return out;
    }
    switch (o.nodeType()) {
      case NODE -> {
        for (Plan.Step s : model.session().plan().steps()) {
          List<CalibrationNode> cal = model.calibrationsOf(s.node().name());
          if (!cal.isEmpty()) {
            out.add(new Candidate(s.node().name(), "node", cal.stream().map(CalibrationNode::name).toList()));
          }
        }
      }
      case WEIGHT, ACTIVATION -> {
        TensorKind k = o.nodeType() == NodeType.WEIGHT ? TensorKind.WEIGHT : TensorKind.ACTIVATION;
        for (CalibrationNode c : model.nodes()) {
          if (c.kind() == k) {
            out.add(new Candidate(c.name(), k.label(), List.of(c.name())));
          }
        }
      }
    }
    return out;
  }

  /** The tensors compared: the graph outputs, or the outputs of {@code o.outputNodes()}. */
  static List<String> outputTensors(CalibratedModel model, List<String> outputNodes) {
    if (outputNodes.isEmpty()) {
      return model.floatModel().outputs().stream().map(v -> v.name()).toList();
    }
    List<String> t = new ArrayList<>();
    for (String n : outputNodes) {
      t.addAll(model.floatModel().node(n).outputs());
    }
    return t;
  }

  /** Ranks the candidates of {@code o}. */
  public static Result run(CalibratedModel model, SampleSet data, Options o, Progress progress) {
    List<Candidate> cands = candidates(model, o);
    List<String> outputs = outputTensors(model, o.outputNodes());
    int n = o.dataNum() > 0 ? o.dataNum() : data.size();
    if (n > data.size()) {
      throw new UsageException(
          "--data-num: " + n + " samples asked, the data has " + data.size());
    }
    List<Metric> metrics = o.metrics();
    // scores[c][m][sample] = mean over output tensors of the metric for that sample
    double[][][] scores = new double[cands.size()][metrics.size()][n];
    List<List<String>> variants = cands.stream().map(Candidate::calibrationNodes).toList();
    Workers.Sweep sweep = Workers.Sweep.of(model.session(), data, n, "get-sensitivity-of-nodes");
    List<BatchPlan.Batch> batches = sweep.batches();
    long total = (long) cands.size() * batches.size();
    for (int b = 0; b < batches.size(); b++) {
      BatchPlan.Batch batch = batches.get(b);
      int count = batch.size();
      Snapshot base = model.floatSnapshot(data.batch(batch.samples()), variants, outputs);
      List<float[][]> ref = new ArrayList<>(); // per output tensor, per sample
      for (String t : outputs) {
        ref.add(PartialModels.perSample(base.get(t), count));
      }
      long start = (long) b * cands.size();
      // candidates on both cores: each re-run reads the snapshot and writes its own scores
      sweep.run(
          cands.size(),
          c -> {
            Map<String, INDArray> got =
                model.rerun(base, cands.get(c).calibrationNodes(), RunOptions.outputs(outputs));
            List<float[][]> qs = new ArrayList<>();
            for (String t : outputs) {
              qs.add(PartialModels.perSample(got.get(t), count));
            }
            for (int m = 0; m < metrics.size(); m++) {
              for (int s = 0; s < count; s++) {
                double sum = 0;
                int valid = 0;
                for (int k = 0; k < outputs.size(); k++) {
                  float[] q = qs.get(k)[s];
                  double v = metrics.get(m).compute(ref.get(k)[s], q);
                  if (!Double.isNaN(v)) {
                    sum += v;
                    valid++;
                  }
                }
                scores[c][m][batch.sample(s)] = valid == 0 ? Double.NaN : sum / valid;
              }
            }
          },
          finished -> progress.update("get-sensitivity-of-nodes", start + finished, total));
      base.close(); // its tensors' memory now, not when the garbage collector runs
    }
    return tabulate(cands, metrics, scores, o);
  }

  static Result tabulate(List<Candidate> cands, List<Metric> metrics, double[][][] scores, Options o) {
    int nc = cands.size();
    double[][] mean = new double[nc][metrics.size()];
    for (int c = 0; c < nc; c++) {
      for (int m = 0; m < metrics.size(); m++) {
        mean[c][m] = Stats.nanMean(scores[c][m]);
      }
    }
    Metric first = metrics.get(0);
    Integer[] order = new Integer[nc];
    for (int i = 0; i < nc; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparing((Integer i) -> mean[i][0], (x, y) -> first.worse(x, y) ? -1 : first.worse(y, x) ? 1 : 0));
    StringColumn names = StringColumn.create("node");
    StringColumn type = StringColumn.create("type");
    StringColumn cal = StringColumn.create("calibration-nodes");
    List<DoubleColumn> cols = new ArrayList<>();
    for (Metric m : metrics) {
      cols.add(DoubleColumn.create(m.label()));
    }
    DoubleColumn worst = DoubleColumn.create(first.label() + "-worst-sample");
    DoubleColumn p5 = DoubleColumn.create(first.label() + "-p5-sample");
    for (int i : order) {
      names.append(cands.get(i).name());
      type.append(cands.get(i).type());
      cal.append(String.join(";", cands.get(i).calibrationNodes()));
      for (int m = 0; m < metrics.size(); m++) {
        cols.get(m).append(mean[i][m]);
      }
      worst.append(Stats.worst(scores[i][0], first));
      p5.append(Stats.percentileTowardsWorst(scores[i][0], first, 5));
    }
    Table table = Table.create("node sensitivity", names);
    cols.forEach(table::addColumns);
    Table detail =
        Table.create(
            "node sensitivity (detail)",
            names.copy(),
            type,
            cal,
            cols.get(0).copy().setName(first.label() + "-mean"),
            worst,
            p5);
    // the figure: the top FIGURE_TOP of the ranking (all of it is in the table and CSV); markers,
    // not bars: scores cluster near one end (cosine 0.99x), and bars from 0 would hide the ranking
    int shown = Math.min(FIGURE_TOP, names.size());
    String[] x = java.util.Arrays.copyOf(names.asObjectArray(), shown);
    double[] y = java.util.Arrays.copyOf(cols.get(0).asDoubleArray(), shown);
    Figure fig =
        Figures.categoryLines(
            "Node sensitivity: "
                + first.label().replace('-', ' ')
                + " of the output, each node quantized alone ("
                + (shown < names.size() ? "top " + shown + " of " + names.size() : "all " + names.size())
                + ")",
            "node (most sensitive first; full name on hover and in the table)",
            first.label() + " with float",
            x,
            Map.of(),
            Map.of(first.label(), y));
    if (nc > 0 && scores[0][0].length <= 20) { // nearest rank: ceil(5% of n) = 1
      detail.setName(
          detail.name()
              + ": with "
              + scores[0][0].length
              + " samples the 5th percentile (nearest rank) is the worst sample");
    }
    return new Result(table, detail, fig, o);
  }
}
