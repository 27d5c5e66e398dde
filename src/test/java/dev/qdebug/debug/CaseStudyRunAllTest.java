package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Cli;
import dev.qdebug.Progress;
import dev.qdebug.data.SampleSet;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.Calibrator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * runall on every committed case-study model (data/models/*.onnx), calibrated with the default
 * method, with the labeled test set: the whole report, offline, with accuracy and the automatic
 * partial quantization. Few samples each, to keep the suite quick; the numbers themselves are
 * checked by the analyses' own tests.
 */
class CaseStudyRunAllTest {
  static final Path DATA = Path.of("data");

  @TempDir Path tmp;

  static List<Path> models() throws Exception {
    try (Stream<Path> s = Files.list(DATA.resolve("models"))) {
      List<Path> all = s.filter(p -> p.toString().endsWith(".onnx")).sorted().toList();
      assertEquals(3, all.size(), "three case-study models: " + all);
      return all;
    }
  }

  @ParameterizedTest
  @MethodSource("models")
  void writesTheFullReport(Path modelFile) throws Exception {
    OnnxModel model = OnnxModel.load(modelFile);
    SampleSet calibration = SampleSet.open(DATA.resolve("calibration"), model.inputs());
    Path report = tmp.resolve("report");
    Path calFile = tmp.resolve("int8.onnx");
    try (CalibratedModel cal = Calibrator.calibrate(
            model, calibration, Calibrator.Options.defaults().dataNum(8), Progress.NONE)) {
      cal.save(calFile);
    }
    Cli.Result r = Cli.run("runall", "--model", calFile.toString(), "--calibration-data",
        DATA.resolve("calibration").toString(), "--data-num", "2", "--dataset",
        DATA.resolve("fmnist_test").toString(), "--eval-num", "100", "--save-dir", report.toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("top 10 sensitive nodes in float") && r.out().contains("report: "), r.out());
    List<String> rows = Files.readAllLines(report.resolve("accuracy/accuracy.csv"));
    assertEquals(1 + 6, rows.size(), "header, float, calibrated, top 1/3/5/10: " + rows);
    double floatTop1 = Double.parseDouble(rows.get(1).split(",")[4]);
    double int8Top1 = Double.parseDouble(rows.get(2).split(",")[4]);
    assertTrue(floatTop1 > 0.7, "a trained model: " + rows.get(1));
    assertTrue(int8Top1 > 0.9 * floatTop1, "int8 keeps most of the accuracy: " + rows.get(2));
    List<String> summary = Files.readAllLines(report.resolve("partial_quantization/partial_quantization_summary.csv"));
    double reached = Double.parseDouble(summary.get(summary.size() - 1).split(",")[5]);
    assertTrue(reached >= 99.0, "99% of float is reached: " + summary);
    assertTrue(!r.out().contains("target not reached"), r.out());
    for (String sub : List.of("node_sensitivity", "data_distribution", "channelwise_distribution",
        "accumulate_error", "calibration_stats", "layer_error", "accuracy", "partial_quantization")) {
      assertTrue(Files.isDirectory(report.resolve(sub)), sub);
    }
    assertTrue(Files.isRegularFile(report.resolve("partial_quantization/partial_quantized_model.onnx")));
    String index = Files.readString(report.resolve("index.html"));
    assertTrue(Files.isDirectory(report.resolve("sensitivity_analysis"))
        || index.contains("sensitivity_analysis/ is not written"), "the curve, or the page says why not");
    assertTrue(index.contains(">Accuracy</h2>") && index.contains("top 10 sensitive nodes in float"), "accuracy on the page");
    // the verdict opens the page, with this run's numbers
    int at = index.indexOf("<div class=\"verdict");
    assertTrue(at > 0 && at < index.indexOf("<h2"), "the verdict first");
    String verdict = index.substring(at, index.indexOf("</div>", at));
    double pct = 100 * int8Top1 / floatTop1;
    assertTrue(verdict.contains(String.format(java.util.Locale.ROOT, "float %.2f%%", 100 * floatTop1)), verdict);
    assertTrue(verdict.contains(pct >= 99 ? "target is met" : "target is missed"), verdict);
    assertTrue(verdict.contains("Top culprits") && verdict.contains("Recommended:"), verdict);
    Matcher links = Pattern.compile("(?:href|src)=\"([^\"]+)\"").matcher(index);
    while (links.find()) {
      assertTrue(Files.exists(report.resolve(links.group(1))), "broken link " + links.group(1));
    }
    try (Stream<Path> s = Files.walk(report)) {
      for (Path p : s.filter(p -> p.toString().endsWith(".html")).toList()) {
        String page = Files.readString(p);
        assertFalse(page.contains("https://") || page.contains("http://cdn"), p + " needs no network");
      }
    }
  }
}
