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

  /** The prefix of a report being written, beside its folder: {@code .<name>.qdebug-partial-<pid>}. */
  static final String STAGING = ".qdebug-partial-";

  /**
   * Writes the report. A folder that does not exist yet is written whole or not at all: the report
   * is built in a hidden folder beside it and renamed into place at the end, so a killed run leaves
   * no report (and the next run removes what it left). Into a folder that exists already, every
   * file is written atomically and {@code index.html} last.
   */
  static Result run(Debugger dbg, Path dir, Options o) {
    if (Files.exists(dir)) {
      return write(dbg, dir, o);
    }
    Path abs = dir.toAbsolutePath().normalize();
    Path parent = abs.getParent();
    String prefix = "." + abs.getFileName() + STAGING;
    try {
      Files.createDirectories(parent);
      removeStaleStaging(parent, prefix);
      Path stage = parent.resolve(prefix + ProcessHandle.current().pid());
      deleteTree(stage);
      Result r = write(dbg, stage, o);
      try {
        Files.move(stage, abs, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      } catch (java.nio.file.FileAlreadyExistsException e) {
        throw new QdebugException(dir + ": created by someone else while the report was written; the"
            + " report is left in " + stage);
      }
      return new Result(dir, dir.resolve("index.html"), r.studiedNodes(), r.nodeSensitivity(),
          r.accuracy(), r.partialQuantization());
    } catch (IOException e) {
      throw new QdebugException(dir + ": cannot write the report: " + e.getMessage(), e);
    }
  }

  /** Removes the staging folders of runs whose process is gone (killed mid-report). */
  private static void removeStaleStaging(Path parent, String prefix) throws IOException {
    try (Stream<Path> s = Files.list(parent)) {
      for (Path p : s.toList()) {
        String n = p.getFileName().toString();
        if (!n.startsWith(prefix)) {
          continue;
        }
        try {
          long pid = Long.parseLong(n.substring(prefix.length()));
          if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            continue;
          }
        } catch (NumberFormatException e) {
          continue; // not ours
        }
        deleteTree(p);
      }
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    }
  }

  private static Result write(Debugger dbg, Path dir, Options o) {
    Html.ensurePlotly(dir); // one copy at the root, shared by every page below
    NodeSensitivity.Options base =
        NodeSensitivity.Options.defaults().metrics(o.metrics()).dataNum(o.dataNum());
    Set<String> studied = new LinkedHashSet<>();
    Path ns = dir.resolve("node_sensitivity");
    NodeSensitivity.Result nodes = dbg.getSensitivityOfNodes(base.nodeType(NodeSensitivity.NodeType.NODE));
    Map<String, Object> results = new java.util.LinkedHashMap<>(); // folder -> result, for the index
    results.put("node_sensitivity", nodes);
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
      Distribution.Result dist =
          dbg.plotDistribution(Distribution.Options.defaults().nodes(studiedList).dataNum(1));
      dist.save(dir.resolve("data_distribution"));
      results.put("data_distribution", dist);
      ChannelwiseDistribution.Result boxes =
          dbg.getChannelwiseDataDistribution(
              ChannelwiseDistribution.Options.defaults().nodes(studiedList).dataNum(1));
      boxes.save(dir.resolve("channelwise_distribution"));
      results.put("channelwise_distribution", boxes);
    }
    AccumulatedError.Result accError =
        dbg.plotAccError(
            AccumulatedError.Options.defaults().averageMode(o.averageMode()).dataNum(o.dataNum()));
    accError.save(dir.resolve("accumulate_error"));
    results.put("accumulate_error", accError);
    List<String> sensitive = new ArrayList<>();
    Table t = nodes.table();
    for (int r = 0; r < t.rowCount(); r++) {
      double cos = nodes.score(t.stringColumn("node").get(r), Metric.COSINE_SIMILARITY);
      if (cos <= o.pickThreshold()) {
        sensitive.add(t.stringColumn("node").get(r));
      }
    }
    if (!sensitive.isEmpty() && o.metrics().contains(Metric.COSINE_SIMILARITY)) {
      PartialQuantization.Result curve =
          dbg.sensitivityAnalysis(
              PartialQuantization.Options.defaults()
                  .pickThreshold(o.pickThreshold())
                  .dataNum(o.dataNum())
                  .sensitiveNodes(sensitive));
      curve.save(dir.resolve("sensitivity_analysis"));
      results.put("sensitivity_analysis", curve);
    }
    CalibrationStats.Result stats = dbg.getCalibrationNodesStatInfo();
    stats.save(dir.resolve("calibration_stats"));
    results.put("calibration_stats", stats);
    LayerError.Result layers = dbg.layerError(LayerError.Options.defaults().dataNum(o.dataNum()));
    layers.save(dir.resolve("layer_error"));
    results.put("layer_error", layers);
    AccuracyTable.Result accuracy = null;
    AutoPartialQuantization.Result auto = null;
    String diagnoseNote = null;
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
      results.put("accuracy", accuracy);
      auto =
          dbg.autoPartialQuantization(
              AutoPartialQuantization.Options.defaults()
                  .dataset(o.dataset())
                  .evalNum(o.evalNum())
                  .sensitiveNodes(ranking)
                  .floatAccuracy(accuracy.floatAccuracy()));
      auto.save(dir.resolve("partial_quantization"));
      results.put("partial_quantization", auto);
      // diagnose (issue 12): causes, fix trials and the fixed model of the top 10 nodes, unless
      // the calibrated model already meets diagnose's target (as sensitivity_analysis/ is
      // skipped when no node is sensitive)
      double target = Diagnose.Options.defaults().target();
      if (accuracy.calibratedAccuracy() >= target * accuracy.floatAccuracy()) {
        diagnoseNote =
            String.format(
                java.util.Locale.ROOT,
                "The calibrated model's top-1 %.2f%% is already %.2f%% of float's %.2f%% (target"
                    + " %.0f%%): nothing to fix, so diagnose/ is not written.",
                100 * accuracy.calibratedAccuracy(),
                100 * accuracy.calibratedAccuracy() / accuracy.floatAccuracy(),
                100 * accuracy.floatAccuracy(),
                100 * target);
      } else {
        Diagnose.Result diagnosis =
            dbg.diagnose(
                Diagnose.Options.defaults()
                    .nodes(ranking.subList(0, Math.min(10, ranking.size())))
                    .dataNum(
                        o.dataNum() == 0
                            ? 0
                            : Math.min(dbg.data().size(), Math.max(16, o.dataNum())))
                    .dataset(o.dataset())
                    .evalNum(o.evalNum())
                    .floatAccuracy(accuracy.floatAccuracy()));
        diagnosis.save(dir.resolve("diagnose"));
        results.put("diagnose", diagnosis);
      }
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
    if (diagnoseNote != null) {
      note = note == null ? diagnoseNote : note + " " + diagnoseNote;
    }
    Html.writeAtomically(
        index, index(dir, dbg, nodes, studiedList, accuracy, auto, accError, results, note));
    return new Result(dir, index, studiedList, nodes, accuracy, auto);
  }

  private static List<String> top(NodeSensitivity.Result r) {
    List<String> all = r.ranking();
    return all.subList(0, Math.min(TOP, all.size()));
  }

  /** What each report folder shows, in one sentence (the index's sections, in this order). */
  static final Map<String, String[]> SECTIONS = sections();

  private static Map<String, String[]> sections() {
    Map<String, String[]> m = new java.util.LinkedHashMap<>();
    m.put("accuracy", new String[] {"Accuracy",
        "Top-1 of the float model, the calibrated model, and the calibrated model with its most"
            + " sensitive nodes left in float."});
    m.put("partial_quantization", new String[] {"Automatic partial quantization",
        "The fewest most-sensitive nodes to leave in float so that top-1 reaches 99% of float,"
            + " and the partially quantized model."});
    m.put("diagnose", new String[] {"Diagnosis and fix",
        "The cause of each of the most sensitive nodes with its evidence, the fixes tried on each"
            + " node alone with their gains, and the fixed model that keeps the winners."});
    m.put("accumulate_error", new String[] {"Weights or activations?",
        "The similarity with float of every node's output in graph order, with only the weights,"
            + " only the activations, or both quantized: the curve that falls loses the accuracy."});
    m.put("node_sensitivity", new String[] {"Which nodes?",
        "Each node quantized alone: how far the model's output moves (most sensitive first);"
            + " weight/ and activation/ rank the calibration nodes of each kind."});
    m.put("sensitivity_analysis", new String[] {"Partial quantization curve",
        "The output similarity as the most sensitive nodes go back to float one by one."});
    m.put("data_distribution", new String[] {"Distributions of the most sensitive calibration nodes",
        "Histograms of their values, with the calibrated threshold, and float against quantized"
            + " weights."});
    m.put("channelwise_distribution", new String[] {"Per-channel ranges",
        "One box per channel: a few wide channels force one scale on many narrow ones."});
    m.put("calibration_stats", new String[] {"Calibration-node statistics",
        "Every calibration node's threshold and scale against its data's largest and smallest"
            + " non-zero values: clipping and lost resolution."});
    m.put("layer_error", new String[] {"Local vs accumulated error",
        "Each calibration node's own error against the error carried from the layers before it."});
    return m;
  }

  /**
   * The report page: the verdict first (float vs quantized, the target, the top culprits and what
   * to do, with the numbers), then one section per analysis with its key figure drawn inline, one
   * sentence on what it shows, and links to its files.
   */
  static String index(
      Path dir,
      Debugger dbg,
      NodeSensitivity.Result nodes,
      List<String> studied,
      AccuracyTable.Result accuracy,
      AutoPartialQuantization.Result auto,
      AccumulatedError.Result accError,
      Map<String, Object> results,
      String note) {
    StringBuilder b = new StringBuilder();
    b.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>qdebug report: ")
        .append(Html.escape(modelName(dbg)))
        .append("</title>\n<script src=\"")
        .append(Html.PLOTLY_FILE)
        .append("\"></script>\n<style>")
        .append(Html.STYLE)
        .append("</style></head><body>\n<h1>Quantization precision report: ")
        .append(Html.escape(modelName(dbg)))
        .append("</h1>\n");
    b.append("<p>Setting: <b>").append(Html.escape(Setting.of(dbg.model()))).append("</b>, ")
        .append(dbg.model().nodes().size()).append(" calibration nodes; calibration data <code>")
        .append(Html.escape(dbg.data().dir().toString())).append("</code> (")
        .append(dbg.data().size()).append(" samples).</p>\n");
    verdict(b, nodes, accuracy, auto, accError);
    if (note != null) {
      b.append("<p>").append(Html.escape(note)).append("</p>\n");
    }
    Map<String, List<String>> byFolder = files(dir);
    int fig = 0;
    for (Map.Entry<String, String[]> sec : SECTIONS.entrySet()) {
      String folder = sec.getKey();
      List<String> files = new ArrayList<>();
      byFolder.forEach(
          (k, v) -> {
            if (k.equals(folder) || k.startsWith(folder + "/")) {
              files.addAll(v);
            }
          });
      if (files.isEmpty() && !results.containsKey(folder)) {
        continue;
      }
      b.append("<h2 id=\"").append(folder).append("\">").append(Html.escape(sec.getValue()[0]))
          .append("</h2>\n<p>").append(Html.escape(sec.getValue()[1])).append("</p>\n");
      if (folder.equals("accuracy") && accuracy != null) {
        b.append(Html.table(accuracy.table()));
      }
      if (folder.equals("partial_quantization") && auto != null) {
        b.append(Html.table(auto.summary()));
      }
      if (folder.equals("diagnose") && results.get(folder) instanceof Diagnose.Result d) {
        b.append(Html.table(d.accuracy()));
        b.append(Html.table(d.summary()));
      }
      if (folder.equals("node_sensitivity")) {
        b.append(Html.table(nodes.table().first(Math.min(10, nodes.table().rowCount()))
            .setName("the 10 most sensitive of " + nodes.table().rowCount() + " nodes")));
        if (!studied.isEmpty()) {
          b.append("<p>Calibration nodes studied in detail below: <code>")
              .append(Html.escape(String.join(", ", studied))).append("</code></p>\n");
        }
      }
      tech.tablesaw.plotly.components.Figure key = firstFigure(results.get(folder), 0);
      if (key != null) {
        b.append(Html.figureDiv(key, "figure-" + fig++));
      }
      b.append("<p>Files:</p><ul>\n");
      for (String f : files) {
        b.append("<li><a href=\"").append(Html.escape(f)).append("\">")
            .append(Html.escape(f.substring(f.indexOf('/') + 1))).append("</a></li>\n");
      }
      b.append("</ul>\n");
    }
    for (Map.Entry<String, List<String>> e : byFolder.entrySet()) {
      String top = e.getKey().split("/")[0];
      if (SECTIONS.containsKey(top)) {
        continue;
      }
      b.append("<h2>").append(Html.escape(e.getKey())).append("</h2>\n<ul>\n");
      for (String f : e.getValue()) {
        b.append("<li><a href=\"").append(Html.escape(f)).append("\">")
            .append(Html.escape(f)).append("</a></li>\n");
      }
      b.append("</ul>\n");
    }
    return b.append("</body></html>\n").toString();
  }

  private static String modelName(Debugger dbg) {
    String src = dbg.model().floatModel().source();
    return src == null ? "the model" : Path.of(src).getFileName().toString();
  }

  /** The verdict: what happened and what to do, with the numbers. */
  static void verdict(
      StringBuilder b,
      NodeSensitivity.Result nodes,
      AccuracyTable.Result accuracy,
      AutoPartialQuantization.Result auto,
      AccumulatedError.Result accError) {
    boolean ok;
    StringBuilder v = new StringBuilder();
    if (accuracy != null) {
      double f = accuracy.floatAccuracy();
      double q = accuracy.calibratedAccuracy();
      ok = q >= 0.99 * f;
      v.append(String.format(java.util.Locale.ROOT,
          "<p><b>Top-1: float %.2f%%, quantized %.2f%% (%.1f%% of float): the 99%% of float target"
              + " is %s.</b></p>\n",
          100 * f, 100 * q, 100 * q / f, ok ? "met" : "missed"));
    } else {
      ok = true;
      v.append("<p><b>No labeled dataset given (runall --dataset): accuracy not measured.</b></p>\n");
    }
    if (accError != null && !accError.plots().isEmpty()) {
      AccumulatedError.Plot p = accError.plots().get(0);
      Map<String, Double> last = new java.util.LinkedHashMap<>();
      for (String c : p.curves()) {
        double[] y = p.curve(c);
        double l = Double.NaN;
        for (double x : y) {
          l = Double.isFinite(x) ? x : l;
        }
        last.put(c, l);
      }
      Double both = last.get("weight_activation_calibrated");
      Double w = last.get("only_weight_calibrated");
      Double a = last.get("only_activation_calibrated");
      if (both != null) {
        v.append("<p>Output cosine similarity with float: ").append(dev.qdebug.viz.Fmt.num(both));
        if (w != null && a != null) {
          v.append(" (only weights quantized ").append(dev.qdebug.viz.Fmt.num(w))
              .append(", only activations ").append(dev.qdebug.viz.Fmt.num(a)).append("): ")
              .append(Math.abs(1 - w) > 2 * Math.abs(1 - a)
                  ? "the <b>weights</b> lose most"
                  : Math.abs(1 - a) > 2 * Math.abs(1 - w)
                      ? "the <b>activations</b> lose most"
                      : "weights and activations lose about as much");
        }
        v.append(".</p>\n");
        if (accuracy == null) {
          ok = both >= 0.99;
        }
      }
    }
    List<String> ranking = nodes.ranking();
    int n = Math.min(3, ranking.size());
    if (n > 0) {
      v.append("<p>Top culprits (each quantized alone, output cosine similarity): ");
      for (int i = 0; i < n; i++) {
        v.append(i == 0 ? "" : ", ").append("<code>").append(Html.escape(ranking.get(i)))
            .append("</code> ")
            .append(dev.qdebug.viz.Fmt.num(nodes.score(ranking.get(i), Metric.COSINE_SIMILARITY)));
      }
      v.append(".</p>\n");
    }
    v.append("<p><b>Recommended:</b> ");
    if (accuracy != null && ok) {
      v.append("deploy the quantized model as it is.");
    } else if (auto != null && auto.reached() && auto.k() > 0) {
      double got = auto.values().getOrDefault(auto.k(), Double.NaN);
      v.append(String.format(java.util.Locale.ROOT,
              "leave the %d most sensitive node%s in float (of %d): top-1 %.2f%% (%.1f%% of float)."
                  + " The model: <a href=\"partial_quantization/partial_quantized_model.onnx\">"
                  + "partial_quantization/partial_quantized_model.onnx</a>.",
              auto.k(), auto.k() == 1 ? "" : "s", auto.ranking().size(), 100 * got,
              100 * got / auto.floatAccuracy()));
      if (auto.k() > Math.max(3, auto.ranking().size() / 4)) {
        v.append(" That many nodes means the loss is spread over the network: consider more bits"
            + " for the weights or quantization-aware training.");
      }
    } else if (auto != null && !auto.reached()) {
      v.append("no number of nodes left in float reaches the target: use more bits (int8/int16)"
          + " or quantization-aware training.");
    } else if (accuracy == null) {
      v.append(ok
          ? "the output stays close to float; run with --dataset to confirm with accuracy."
          : "run with --dataset for the accuracy and the automatic search; start with the top"
              + " culprits above.");
    } else {
      v.append("see the sections below.");
    }
    v.append("</p>\n");
    b.append("<div class=\"verdict ").append(ok ? "ok" : "bad").append("\">\n").append(v)
        .append("</div>\n");
  }

  /** Every .html/.csv/.json/.onnx under {@code dir} but the index, by folder. */
  private static Map<String, List<String>> files(Path dir) {
    Map<String, List<String>> byFolder = new TreeMap<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
        String name = p.getFileName().toString();
        if (!(name.endsWith(".html") || name.endsWith(".csv") || name.endsWith(".json")
                || name.endsWith(".onnx"))
            || name.equals("index.html")) {
          continue;
        }
        Path rel = dir.relativize(p);
        String folder = rel.getParent() == null ? "." : rel.getParent().toString().replace('\\', '/');
        byFolder.computeIfAbsent(folder, k -> new ArrayList<>()).add(rel.toString().replace('\\', '/'));
      }
    } catch (IOException e) {
      throw new QdebugException(dir + ": cannot list the report: " + e.getMessage(), e);
    }
    return byFolder;
  }

  /** The first figure of a result (its record components in order, lists included). */
  static tech.tablesaw.plotly.components.Figure firstFigure(Object v, int depth) {
    if (v == null || depth > 3) {
      return null;
    }
    if (v instanceof tech.tablesaw.plotly.components.Figure f) {
      return f;
    }
    if (v instanceof List<?> l) {
      for (Object x : l) {
        var f = firstFigure(x, depth + 1);
        if (f != null) {
          return f;
        }
      }
      return null;
    }
    if (v instanceof Record r) {
      for (var c : r.getClass().getRecordComponents()) {
        try {
          c.getAccessor().setAccessible(true);
          var f = firstFigure(c.getAccessor().invoke(r), depth + 1);
          if (f != null) {
            return f;
          }
        } catch (ReflectiveOperationException | RuntimeException e) {
          // not a figure
        }
      }
    }
    return null;
  }
}
