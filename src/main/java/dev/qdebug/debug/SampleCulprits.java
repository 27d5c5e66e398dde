package dev.qdebug.debug;

import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Snapshot;
import dev.qdebug.metrics.Metric;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.viz.Html;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Which samples, which nodes: for the samples whose prediction quantization flips (labeled data)
 * or whose output degrades most (unlabeled), the nodes responsible per sample. A node's
 * per-sample sensitivity is the sample's output cosine with that node alone quantized (everything
 * else float), from one float snapshot of the chosen samples and a downstream-only re-run per
 * node; the culprits are the nodes with the lowest. Image-like inputs ({@code [C, H, W]}, C 1 or
 * 3) are drawn as thumbnails in a gallery page.
 */
final class SampleCulprits {
  /** Culprits shown per sample. */
  static final int CULPRITS = 3;

  private SampleCulprits() {}

  /** The table and the gallery page. */
  record Result(Table table, String gallery) {}

  /**
   * @param samples the sample indices to explain, in {@code data}
   * @param why per sample, a short description ({@code label 3, float 3, quantized 5})
   * @param nodes candidate nodes, with their calibration nodes
   */
  static Result run(
      CalibratedModel model,
      SampleSet data,
      List<Integer> samples,
      List<String> why,
      Map<String, ? extends Collection<String>> nodes) {
    StringColumn sc = StringColumn.create("sample");
    StringColumn wc = StringColumn.create("why");
    IntColumn cc = IntColumn.create("culprit-rank");
    StringColumn nc = StringColumn.create("node");
    DoubleColumn cos = PartialModels.fixed("sample-output-cosine-node-alone", 6);
    StringBuilder html = new StringBuilder();
    html.append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>diagnose: samples</title>")
        .append("<style>body{font-family:sans-serif} .s{display:inline-block;vertical-align:top;")
        .append("width:230px;margin:8px;border:1px solid #ccc;padding:6px;font-size:12px}")
        .append(" img{width:112px;image-rendering:pixelated}</style></head><body>")
        .append("<h1>Which samples, which nodes</h1><p>Each sample: its input, why it was chosen, and")
        .append(" the nodes whose quantization alone degrades its output most (output cosine with")
        .append(" only that node quantized).</p>\n");
    List<String> outputs = model.floatModel().outputs().stream().map(v -> v.name()).toList();
    // stack the chosen samples only as the batch plan allows (graph, memory) and when every
    // sample has one shape; else one at a time
    Workers.Sweep sweep = Workers.Sweep.of(model.session(), data, data.size(), "diagnose");
    dev.qdebug.data.BatchPlan plan = sweep.plan();
    int chunk = plan.stacks() && data.fixedShapes() ? Math.max(1, plan.maxBatch()) : 1;
    for (int from = 0; from < samples.size(); from += chunk) {
      int count = Math.min(chunk, samples.size() - from);
      List<Map<String, INDArray>> parts = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        parts.add(data.sample(samples.get(from + i)));
      }
      Map<String, INDArray> batch = new LinkedHashMap<>();
      for (String in : parts.get(0).keySet()) {
        batch.put(in, Nd4j.concat(0, parts.stream().map(p -> p.get(in)).toArray(INDArray[]::new)));
      }
      Set<String> mayChange = new java.util.LinkedHashSet<>();
      nodes.values().forEach(ns -> ns.forEach(x -> mayChange.add(model.node(x).tensor())));
      double[][] score = new double[count][nodes.size()];
      List<String> names = new ArrayList<>(nodes.keySet());
      try (Snapshot base = model.session().snapshot(batch, mayChange, outputs)) {
        List<float[][]> ref = new ArrayList<>(); // per output, per sample: split once
        for (String o : outputs) {
          ref.add(PartialModels.perSample(base.get(o), count));
        }
        // nodes on both cores for a small model: each writes its own column of scores
        sweep.run(
            names.size(),
            k -> {
              Map<String, INDArray> got =
                  model.rerun(base, Set.copyOf(nodes.get(names.get(k))), RunOptions.outputs(outputs));
              List<float[][]> qs = new ArrayList<>();
              for (String o : outputs) {
                qs.add(PartialModels.perSample(got.get(o), count));
              }
              for (int s = 0; s < count; s++) {
                double sum = 0;
                for (int o = 0; o < outputs.size(); o++) {
                  sum += Metric.COSINE_SIMILARITY.compute(ref.get(o)[s], qs.get(o)[s]);
                }
                score[s][k] = sum / outputs.size();
              }
            },
            finished -> {});
      } // the batch's tensors freed now, not when the garbage collector runs
      for (int s = 0; s < count; s++) {
        int idx = samples.get(from + s);
        Integer[] order = new Integer[names.size()];
        for (int i = 0; i < order.length; i++) {
          order[i] = i;
        }
        double[] row = score[s];
        java.util.Arrays.sort(order, (a, b) -> Double.compare(row[a], row[b]));
        html.append("<div class=\"s\">");
        String img = thumbnail(parts.get(s).values().iterator().next());
        if (img != null) {
          html.append("<img alt=\"sample ").append(idx).append("\" src=\"data:image/png;base64,")
              .append(img).append("\"><br>");
        }
        html.append("<b>sample ").append(idx).append("</b>: ").append(Html.escape(why.get(from + s)))
            .append("<ol>");
        for (int r = 0; r < Math.min(CULPRITS, order.length); r++) {
          String node = names.get(order[r]);
          sc.append(String.valueOf(idx));
          wc.append(why.get(from + s));
          cc.append(r + 1);
          nc.append(node);
          cos.append(row[order[r]]);
          html.append("<li>").append(Html.escape(node))
              .append(String.format(Locale.ROOT, " (%.4f)", row[order[r]])).append("</li>");
        }
        html.append("</ol></div>\n");
      }
    }
    html.append("</body></html>\n");
    return new Result(Table.create("diagnose: samples and their culprit nodes", sc, wc, cc, nc, cos), html.toString());
  }

  /** A grey or RGB PNG of a {@code [1, C, H, W]} input (C 1 or 3), base64; null otherwise. */
  static String thumbnail(INDArray x) {
    long[] s = x.shape();
    if (s.length != 4 || (s[1] != 1 && s[1] != 3) || s[2] < 4 || s[3] < 4 || s[2] > 1024 || s[3] > 1024) {
      return null;
    }
    int c = (int) s[1];
    int h = (int) s[2];
    int w = (int) s[3];
    float[] v = x.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup('c').data().asFloat();
    float lo = Float.POSITIVE_INFINITY;
    float hi = Float.NEGATIVE_INFINITY;
    for (float f : v) {
      lo = Math.min(lo, f);
      hi = Math.max(hi, f);
    }
    float span = hi > lo ? hi - lo : 1;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int xx = 0; xx < w; xx++) {
        int[] rgb = new int[3];
        for (int k = 0; k < 3; k++) {
          int ch = c == 1 ? 0 : k;
          rgb[k] = Math.round(255 * (v[(ch * h + y) * w + xx] - lo) / span);
        }
        img.setRGB(xx, y, (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]);
      }
    }
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ImageIO.write(img, "png", out);
      return Base64.getEncoder().encodeToString(out.toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
