package dev.qdebug.debug;

import dev.qdebug.QdebugException;
import dev.qdebug.metrics.Metric;
import dev.qdebug.viz.Html;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import tech.tablesaw.api.Table;

/**
 * {@code runall}: every analysis in one go, each in its own sub-folder of {@code save_dir}, plus
 * an {@code index.html} that links every figure and table (Horizon's a.11, and beyond it: the
 * calibration-node statistics and the layer-error table are included, and the node sensitivity
 * that the partial-quantization curve needs is computed once and reused).
 *
 * <p>Steps: {@code node_sensitivity/} (weight and activation rankings, or node ranking with
 * {@code nodeType}), the top {@value #TOP} of each giving the calibration nodes studied next;
 * {@code data_distribution/}, {@code channelwise_distribution/} for those nodes; {@code
 * accumulate_error/} (weights vs activations, three curves); {@code sensitivity_analysis/} (the
 * partial-quantization curve over the nodes whose cosine is at most {@code pickThreshold});
 * {@code calibration_stats/}; {@code layer_error/}; with a labeled dataset, {@code accuracy/} (float,
 * calibrated and the top 1, 3, 5, 10 sensitive nodes in float) and {@code partial_quantization/}
 * (the automatic search to 99% of float top-1, and the partially quantized model).
 */
public final class RunAll {
  /** Nodes taken from the top of each sensitivity ranking (Horizon's 5). */
  static final int TOP = 5;

  /**
   * Options.
   *
   * @param nodeType null: rank weights and activations (Horizon's default); NODE: rank nodes
   * @param metrics sensitivity metrics; the first sorts
   * @param dataNum samples per analysis (0: all)
   * @param pickThreshold nodes with output cosine at most this enter the partial-quantization
   *     curve
   * @param averageMode accumulated-error curves as running means
   * @param dataset labeled data: adds the accuracy table (float, calibrated, top-k sensitive nodes
   *     in float) and the automatic partial quantization to 99% of float; null for neither
   * @param evalNum the first N labeled samples (0: all)
   */
  public record Options(
      NodeSensitivity.NodeType nodeType,
      List<Metric> metrics,
      int dataNum,
      double pickThreshold,
      boolean averageMode,
      Path dataset,
      int evalNum) {
    public static Options defaults() {
      return new Options(null, List.of(Metric.COSINE_SIMILARITY), 1, 0.999, false, null, 0);
    }

    public Options nodeType(NodeSensitivity.NodeType t) {
      return new Options(t, metrics, dataNum, pickThreshold, averageMode, dataset, evalNum);
    }

    public Options metrics(List<Metric> m) {
      return new Options(nodeType, m, dataNum, pickThreshold, averageMode, dataset, evalNum);
    }

    public Options dataNum(int n) {
      return new Options(nodeType, metrics, n, pickThreshold, averageMode, dataset, evalNum);
    }

    public Options pickThreshold(double t) {
      return new Options(nodeType, metrics, dataNum, t, averageMode, dataset, evalNum);
    }

    public Options averageMode(boolean b) {
      return new Options(nodeType, metrics, dataNum, pickThreshold, b, dataset, evalNum);
    }

    public Options dataset(Path dir) {
      return new Options(nodeType, metrics, dataNum, pickThreshold, averageMode, dir, evalNum);
    }

    public Options evalNum(int n) {
      return new Options(nodeType, metrics, dataNum, pickThreshold, averageMode, dataset, n);
    }
  }

  /**
   * What was written: the report folder, its index page, the calibration nodes studied, and with a
   * dataset the accuracy table and the automatic partial quantization (else null).
   */
  public record Result(
      Path dir,
      Path index,
      List<String> studiedNodes,
      NodeSensitivity.Result nodeSensitivity,
      AccuracyTable.Result accuracy,
      AutoPartialQuantization.Result partialQuantization) {}

  /** The k of the accuracy table's top-k rows (those the ranking has). */
  static final List<Integer> TOP_K = List.of(1, 3, 5, 10);

  private RunAll() {}

  static Result run(Debugger dbg, Path dir, Options o) {
    Html.ensurePlotly(dir); // one copy at the root, shared by every page below
    NodeSensitivity.Options base =
        NodeSensitivity.Options.defaults().metrics(o.metrics()).dataNum(o.dataNum());
    Set<String> studied = new LinkedHashSet<>();
    Path ns = dir.resolve("node_sensitivity");
    NodeSensitivity.Result nodes = dbg.getSensitivityOfNodes(base.nodeType(NodeSensitivity.NodeType.NODE));
    if (o.nodeType() == NodeSensitivity.NodeType.NODE) {
      nodes.save(ns.resolve("node"));
      for (String n : top(nodes)) {
        dbg.model().calibrationsOf(n).forEach(c -> studied.add(c.name()));
      }
    } else {
      for (NodeSensitivity.NodeType t :
          List.of(NodeSensitivity.NodeType.WEIGHT, NodeSensitivity.NodeType.ACTIVATION)) {
        NodeSensitivity.Result r = dbg.getSensitivityOfNodes(base.nodeType(t));
        r.save(ns.resolve(t.label()));
        studied.addAll(top(r));
      }
      nodes.save(ns.resolve("node"));
    }
    List<String> studiedList = List.copyOf(studied);
    if (!studiedList.isEmpty()) {
      dbg.plotDistribution(Distribution.Options.defaults().nodes(studiedList).dataNum(1))
          .save(dir.resolve("data_distribution"));
      dbg.getChannelwiseDataDistribution(
              ChannelwiseDistribution.Options.defaults().nodes(studiedList).dataNum(1))
          .save(dir.resolve("channelwise_distribution"));
    }
    dbg.plotAccError(AccumulatedError.Options.defaults().averageMode(o.averageMode()).dataNum(o.dataNum()))
        .save(dir.resolve("accumulate_error"));
    List<String> sensitive = new ArrayList<>();
    Table t = nodes.table();
    for (int r = 0; r < t.rowCount(); r++) {
      double cos = nodes.score(t.stringColumn("node").get(r), Metric.COSINE_SIMILARITY);
      if (cos <= o.pickThreshold()) {
        sensitive.add(t.stringColumn("node").get(r));
      }
    }
    if (!sensitive.isEmpty() && o.metrics().contains(Metric.COSINE_SIMILARITY)) {
      dbg.sensitivityAnalysis(
              PartialQuantization.Options.defaults()
                  .pickThreshold(o.pickThreshold())
                  .dataNum(o.dataNum())
                  .sensitiveNodes(sensitive))
          .save(dir.resolve("sensitivity_analysis"));
    }
    dbg.getCalibrationNodesStatInfo().save(dir.resolve("calibration_stats"));
    dbg.layerError(LayerError.Options.defaults().dataNum(o.dataNum())).save(dir.resolve("layer_error"));
    AccuracyTable.Result accuracy = null;
    AutoPartialQuantization.Result auto = null;
    if (o.dataset() != null) {
      List<String> ranking = nodes.ranking();
      List<Integer> ks = TOP_K.stream().filter(k -> k <= ranking.size()).toList();
      accuracy =
          dbg.accuracyTable(
              AccuracyTable.Options.of(o.dataset())
                  .topK(ks)
                  .sensitiveNodes(ranking)
                  .evalNum(o.evalNum()));
      accuracy.save(dir.resolve("accuracy"));
      auto =
          dbg.autoPartialQuantization(
              AutoPartialQuantization.Options.defaults()
                  .dataset(o.dataset())
                  .evalNum(o.evalNum())
                  .sensitiveNodes(ranking)
                  .floatAccuracy(accuracy.floatAccuracy()));
      auto.save(dir.resolve("partial_quantization"));
      // diagnose (issue 12): causes, fix trials and the fixed model of the top 10 nodes
      dbg.diagnose(
              Diagnose.Options.defaults()
                  .nodes(ranking.subList(0, Math.min(10, ranking.size())))
                  .dataNum(o.dataNum() == 0 ? 0 : Math.min(dbg.data().size(), Math.max(16, o.dataNum())))
                  .dataset(o.dataset())
                  .evalNum(o.evalNum())
                  .floatAccuracy(accuracy.floatAccuracy()))
          .save(dir.resolve("diagnose"));
    }
    Path index = dir.resolve("index.html");
    String note =
        sensitive.isEmpty()
            ? String.format(
                java.util.Locale.ROOT,
                "No node's output cosine similarity is at most the pick threshold %s: the"
                    + " calibrated model needs no partial quantization, so sensitivity_analysis/ is"
                    + " not written.",
                o.pickThreshold())
            : null;
    Html.writeAtomically(index, index(dir, dbg, nodes, studiedList, accuracy, auto, note));
    return new Result(dir, index, studiedList, nodes, accuracy, auto);
  }

  private static List<String> top(NodeSensitivity.Result r) {
    List<String> all = r.ranking();
    return all.subList(0, Math.min(TOP, all.size()));
  }

  /** The report page: model facts, the top of the node ranking, and a link to every file. */
  static String index(
      Path dir,
      Debugger dbg,
      NodeSensitivity.Result nodes,
      List<String> studied,
      AccuracyTable.Result accuracy,
      AutoPartialQuantization.Result auto,
      String note) {
    StringBuilder b = new StringBuilder();
    b.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>qdebug report</title>\n")
        .append("<style>body{font-family:sans-serif;margin:2em;max-width:70em}")
        .append("table.qdebug{border-collapse:collapse}table.qdebug td,table.qdebug th{border:1px solid #ccc;padding:2px 8px}")
        .append("</style></head><body>\n<h1>qdebug precision debug report</h1>\n");
    b.append("<p>Model: <code>").append(Html.escape(dbg.model().floatModel().source())).append("</code>, ")
        .append(dbg.model().nodes().size()).append(" calibration nodes; calibration data: <code>")
        .append(Html.escape(dbg.data().dir().toString())).append("</code>, ")
        .append(dbg.data().size()).append(" samples.</p>\n");
    if (accuracy != null) {
      b.append("<h2>Accuracy</h2>\n").append(Html.table(accuracy.table()));
    }
    if (auto != null) {
      b.append("<h2>Automatic partial quantization</h2>\n<p>")
          .append(
              auto.k() == 0
                  ? "The calibrated model already meets the target"
                  : (auto.reached() ? "Leaving " : "The target is not reached even leaving ")
                      + auto.k()
                      + " node"
                      + (auto.k() == 1 ? "" : "s")
                      + " in float"
                      + (auto.reached() ? " meets the target" : ""))
          .append(String.format(java.util.Locale.ROOT, " (target top-1 %.4f).", auto.threshold()));
      if (auto.k() > 0) {
        b.append(" Left in float: <code>")
            .append(Html.escape(String.join(", ", auto.chosenNodes())))
            .append("</code>.");
      }
      b.append(" The partially quantized model: <a href=\"partial_quantization/partial_quantized_model.onnx\">")
          .append("partial_quantization/partial_quantized_model.onnx</a>.</p>\n")
          .append(Html.table(auto.summary()));
    }
    b.append("<h2>Most sensitive nodes</h2>\n")
        .append(Html.table(nodes.table().first(Math.min(10, nodes.table().rowCount()))));
    if (note != null) {
      b.append("<p>").append(Html.escape(note)).append("</p>\n");
    }
    b.append("<p>Calibration nodes studied in detail: ")
        .append(Html.escape(String.join(", ", studied))).append("</p>\n");
    Map<String, List<String>> byFolder = new TreeMap<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
        String name = p.getFileName().toString();
        if (!(name.endsWith(".html") || name.endsWith(".csv") || name.endsWith(".json"))
            || name.equals("index.html")) {
          continue;
        }
        Path rel = dir.relativize(p);
        String folder = rel.getParent() == null ? "." : rel.getParent().toString();
        byFolder.computeIfAbsent(folder, k -> new ArrayList<>()).add(rel.toString().replace('\\', '/'));
      }
    } catch (IOException e) {
      throw new QdebugException(dir + ": cannot list the report: " + e.getMessage(), e);
    }
    for (Map.Entry<String, List<String>> e : byFolder.entrySet()) {
      b.append("<h2>").append(Html.escape(e.getKey())).append("</h2>\n<ul>\n");
      for (String f : e.getValue()) {
        b.append("<li><a href=\"").append(Html.escape(f)).append("\">")
            .append(Html.escape(f)).append("</a></li>\n");
      }
      b.append("</ul>\n");
    }
    return b.append("</body></html>\n").toString();
  }
}
