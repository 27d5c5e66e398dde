package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Cli;
import dev.qdebug.Progress;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.Calibrator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.factory.Nd4j;

/** runall writes every analysis into its sub-folder and an index that links every file. */
class RunAllTest {
  @TempDir Path tmp;

  @Test
  void writesTheWholeReportOfflineWithAnIndex() throws Exception {
    OnnxModel m = OnnxModel.load(Path.of(getClass().getResource("/models/mnasnet_like_op13.onnx").toURI()));
    Nd4j.getRandom().setSeed(6);
    for (int i = 0; i < 3; i++) {
      Npy.write(tmp.resolve("d/input/" + i + ".npy"),
          Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, 3, 64, 64));
    }
    SampleSet data = SampleSet.open(tmp.resolve("d"), m.inputs());
    Path cal = tmp.resolve("cal.onnx");
    try (CalibratedModel c = Calibrator.calibrate(m, data,
        Calibrator.Options.defaults().method(CalibrationMethod.MAX), Progress.NONE)) {
      c.save(cal);
    }
    Path report = tmp.resolve("report");
    var r = Cli.run("runall", "--model", cal.toString(), "--calibration-data",
        tmp.resolve("d").toString(), "--save-dir", report.toString(), "--pick-threshold", "1.0");
    assertEquals(0, r.status(), r.err());
    for (String sub : List.of("node_sensitivity", "data_distribution", "channelwise_distribution",
        "accumulate_error", "sensitivity_analysis", "calibration_stats", "layer_error")) {
      assertTrue(Files.isDirectory(report.resolve(sub)), sub);
    }
    String index = Files.readString(report.resolve("index.html"));
    Matcher links = Pattern.compile("href=\"([^\"]+)\"").matcher(index);
    int count = 0;
    while (links.find()) {
      assertTrue(Files.exists(report.resolve(links.group(1))), "broken link " + links.group(1));
      count++;
    }
    long files;
    try (Stream<Path> s = Files.walk(report)) {
      files = s.filter(p -> p.toString().endsWith(".html") || p.toString().endsWith(".csv")
          || p.toString().endsWith(".json")).count();
    }
    assertEquals(files - 1, count, "every figure and table but the index itself is linked");
    try (Stream<Path> s = Files.walk(report)) {
      assertEquals(1, s.filter(p -> p.getFileName().toString().startsWith("plotly")).count(),
          "one plotly.js for the whole report");
    }
    String page = Files.readString(report.resolve("accumulate_error")
        .resolve("weight_activation_quantized_separately_cosine-similarity.html"));
    assertTrue(page.contains("src=\"../plotly-cartesian-2.35.3.min.js\""), "pages load the shared local copy");
    assertTrue(!page.contains("http://") && !page.contains("https://cdn"), "no network needed");
    // a figure page: a heading, the explanation, a link back to the index
    assertTrue(page.contains("<h1>Weights or activations?"), "heading in words");
    assertTrue(page.contains("The curve that falls"), "the explanation");
    assertTrue(page.contains("href=\"../index.html\""), "a link back");
    try (Stream<Path> s = Files.walk(report)) {
      for (Path p : s.filter(p -> p.toString().endsWith(".html") && !p.equals(report.resolve("index.html"))).toList()) {
        String html = Files.readString(p);
        Matcher back = Pattern.compile("href=\"((?:\\.\\./)+index\\.html)\"").matcher(html);
        assertTrue(back.find(), p + " links back to the report");
        assertEquals(report.resolve("index.html").normalize(), p.getParent().resolve(back.group(1)).normalize(), p.toString());
        assertTrue(html.contains("<h1>"), p + " has a heading");
      }
    }

    // the index reads as a report: the verdict first, then sections with their figures inline
    int verdict = index.indexOf("<div class=\"verdict");
    assertTrue(verdict > 0 && verdict < index.indexOf("<h2"), "the verdict opens the page");
    String v = index.substring(verdict, index.indexOf("</div>", verdict));
    assertTrue(v.contains("Output cosine similarity with float: "), v);
    assertTrue(v.contains("only weights quantized") && v.contains("only activations"), v);
    assertTrue(v.contains("Top culprits") && v.contains("Recommended:"), v);
    assertTrue(index.contains("<script src=\"plotly-cartesian-2.35.3.min.js\"></script>"), "plotly.js once");
    int inline = index.split("class=\"qdebug-figure\"", -1).length - 1;
    assertTrue(inline >= 6, "a key figure per section, drawn inline: " + inline);
    for (String section : List.of("Weights or activations?", "Which nodes?", "Per-channel ranges",
        "Local vs accumulated error")) {
      assertTrue(index.contains(">" + section + "</h2>"), section);
    }
    assertTrue(index.indexOf("Weights or activations?") < index.indexOf("Which nodes?"), "in reading order");
  }
}
