package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Cli;
import dev.qdebug.Cli.Result;
import dev.qdebug.TestModels;
import dev.qdebug.data.Npy;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code plot-distribution}, {@code get-channelwise-data-distribution}, {@code
 * get-calibration-nodes-stat-info}, {@code layer-error} and {@code select-sensitive-samples}
 * through {@link Main#run}, on a model calibrated by the {@code calibrate} command (QDQ file): the
 * files each writes, and a bad input each (exit 2, one line naming the option, node or file).
 */
class AnalysisCommandsTest {
  /** The MatMul's weight, 4 x 3: quantized per column (axis 1). */
  static final float[] W = new float[12];

  static {
    for (int i = 0; i < 12; i++) {
      W[i] = (i * 7 % 11 - 5) / 4f;
    }
  }

  @TempDir Path tmp;
  String model;
  String data;

  static Result cli(String... args) {
    return Cli.run(args);
  }

  /** {@code command --model <cal.onnx> --calibration-data <data> more...}. */
  Result analysis(String command, String... more) {
    return Cli.run(List.of(command, "--model", model, "--calibration-data", data), more);
  }

  @BeforeEach
  void calibrate() {
    Path f = tmp.resolve("float.onnx");
    TestModels.graph()
        .input("x", -1, 4)
        .initializer("W", W, 4, 3)
        .node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"y"})
        .node("Relu", "blk/relu", new String[] {"y"}, new String[] {"blk/z"})
        .output("blk/z", -1, 3)
        .model()
        .save(f);
    Nd4j.getRandom().setSeed(7);
    for (int i = 0; i < 6; i++) {
      Npy.write(tmp.resolve("data/x/" + i + ".npy"), Nd4j.randn(DataType.FLOAT, 1, 4));
    }
    data = tmp.resolve("data").toString();
    model = tmp.resolve("cal.onnx").toString();
    Result r =
        cli(
            "calibrate",
            "--model",
            f.toString(),
            "--calibration-data",
            data,
            "--output",
            model,
            "--method",
            "max");
    assertEquals(0, r.status(), r.err());
  }

  static void assertBadInput(Result r, String... mentions) {
    assertEquals(2, r.status(), r.out() + r.err());
    for (String m : mentions) {
      assertTrue(r.err().contains(m), "'" + m + "' in: " + r.err());
    }
    assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
  }

  @Test
  void plotDistribution() {
    Path out = tmp.resolve("dist");
    Result r =
        analysis(
            "plot-distribution",
            "--nodes",
            "x_HzCalibration,W_HzCalibration,blk/relu",
            "--data-num",
            "2",
            "--save-dir",
            out.toString());
    assertEquals(0, r.status(), r.err());
    for (String f :
        new String[] {
          "activation_x_HzCalibration", "weight_W_HzCalibration", "node_output_blk_z_of_blk_relu"
        }) {
      assertTrue(Files.exists(out.resolve(f + ".html")), f);
      assertTrue(Files.exists(out.resolve(f + ".csv")), f);
      assertTrue(r.out().contains(f + ".html"), r.out());
    }
    assertTrue(Files.exists(out.resolve("distribution_summary.csv")));

    assertBadInput(
        analysis("plot-distribution", "--nodes", "blk/relx", "--save-dir", out.toString()),
        "'blk/relx'",
        "blk/relu");
    assertBadInput(analysis("plot-distribution", "--save-dir", out.toString()), "--nodes");
    assertBadInput(
        analysis(
            "plot-distribution", "--nodes", "mm", "--data-num", "7", "--save-dir", out.toString()),
        "--data-num");
  }

  @Test
  void channelwiseDistribution() throws Exception {
    Path out = tmp.resolve("cw");
    Result r =
        analysis(
            "get-channelwise-data-distribution",
            "--nodes",
            "W_HzCalibration,x_HzCalibration",
            "--save-dir",
            out.toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(
        r.out().contains("(3 channels on axis 1)") && r.out().contains("(4 channels on axis 1)"),
        r.out());
    assertTrue(
        Files.readString(out.resolve("W_HzCalibration_boxplot.csv"))
            .startsWith("channel,count,min,q1,median,mean,q3,max"));
    assertTrue(Files.exists(out.resolve("x_HzCalibration_boxplot.html")));

    r =
        analysis(
            "get-channelwise-data-distribution",
            "--nodes",
            "W_HzCalibration",
            "--axis",
            "0",
            "--save-dir",
            out.toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("(4 channels on axis 0)"), r.out());

    assertBadInput(
        analysis(
            "get-channelwise-data-distribution",
            "--nodes",
            "W_HzCalibration",
            "--axis",
            "3",
            "--save-dir",
            out.toString()),
        "--axis");
    assertBadInput(
        analysis(
            "get-channelwise-data-distribution", "--nodes", "mm", "--save-dir", out.toString()),
        "'mm'",
        "x_HzCalibration");
  }

  @Test
  void layerError() {
    Path out = tmp.resolve("le");
    Result r =
        analysis(
            "layer-error", "--data-num", "0", "--metric", "sqnr-db", "--save-dir", out.toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(
        r.out().contains("x_HzCalibration")
            && r.out().contains("W_HzCalibration")
            && r.out().contains("accumulated-sqnr-db"),
        r.out());
    assertTrue(Files.exists(out.resolve("layer_error.csv")));
    assertTrue(Files.exists(out.resolve("layer_error.html")));

    assertBadInput(analysis("layer-error", "--metric", "snr"), "--metric", "sqnr-db");
    assertBadInput(analysis("layer-error", "--nodes", "W_Hz"), "'W_Hz'", "W_HzCalibration");
  }

  @Test
  void selectSensitiveSamples() throws Exception {
    Path out = tmp.resolve("ss");
    Result r =
        analysis(
            "select-sensitive-samples",
            "--metric",
            "mse",
            "--num-sample",
            "2",
            "--save-dir",
            out.toString());
    assertEquals(0, r.status(), r.err());
    assertEquals(3, r.out().strip().lines().count(), r.out()); // header + 2 samples
    assertTrue(Files.readString(out.resolve("sample_metrics.csv")).lines().count() == 7);
    assertTrue(
        Files.exists(out.resolve("badcase_data/x/0.npy"))
            && Files.exists(out.resolve("badcase_data/x/1.npy")));
    assertTrue(!Files.exists(out.resolve("badcase_data/x/2.npy")));

    assertBadInput(analysis("select-sensitive-samples", "--num-sample", "0"), "--num-sample");
    assertBadInput(analysis("select-sensitive-samples", "--metric", "psnr"), "--metric");
  }

  @Test
  void calibrationNodesStatInfo() throws Exception {
    Path out = tmp.resolve("stat");
    Result r = analysis("get-calibration-nodes-stat-info", "--save-dir", out.toString());
    assertEquals(0, r.status(), r.err());
    List<String> csv = Files.readAllLines(out.resolve("cali_nodes_stat_info.csv"));
    assertEquals(
        "node,tensor,type,granularity,qtype,axis,thresholds,scales,zero-points,max-vals,"
            + "min-nz-vals",
        csv.get(0));
    List<String> nodes;
    try (CalibratedModel cal = CalibratedModel.load(Path.of(model))) {
      nodes = cal.nodes().stream().map(CalibrationNode::name).toList();
    }
    assertEquals(List.of("x_HzCalibration", "W_HzCalibration"), nodes);
    assertEquals(nodes, csv.stream().skip(1).map(l -> l.split(",")[0]).toList(), "one row each");
    String[] w = row(csv, "W_HzCalibration");
    assertEquals(List.of("W", "weight", "per-channel", "int8", "1"), List.of(w).subList(1, 6));
    double[] wMax = new double[3];
    for (int i = 0; i < 12; i++) {
      wMax[i % 3] = Math.max(wMax[i % 3], Math.abs(W[i]));
    }
    assertArrayEquals(wMax, doubles(w[9]), 1e-6, "max |W| per column");
    String[] x = row(csv, "x_HzCalibration");
    assertEquals(List.of("x", "activation", "per-tensor", "int8", "-1"), List.of(x).subList(1, 6));
    assertArrayEquals(new double[] {maxAbs(6)}, doubles(x[9]), 1e-6, "max |x| over all samples");
    for (String f :
        List.of("cali_nodes_stat_info.json", "weight_stat_info.html", "feature_stat_info.html")) {
      assertTrue(Files.exists(out.resolve(f)), f);
    }
    // the table on stdout: a header, one line per node, and what was written
    List<String> lines = r.out().lines().toList();
    assertTrue(lines.get(0).startsWith("node ") && lines.get(0).contains("max|x|"), r.out());
    assertTrue(lines.get(1).startsWith("x_HzCalibration ") && lines.get(1).contains("per-tensor"));
    assertTrue(lines.get(2).startsWith("W_HzCalibration ") && lines.get(2).contains("per-channel"));
    assertTrue(lines.get(3).startsWith("wrote ") && lines.get(3).contains("cali_nodes_stat_info"));

    // --nodes and --data-num reach the analysis; without --save-dir only the table
    r =
        analysis(
            "get-calibration-nodes-stat-info", "--nodes", "x_HzCalibration", "--data-num", "2");
    assertEquals(0, r.status(), r.err());
    assertEquals(2, r.out().strip().lines().count(), r.out());
    assertTrue(r.out().contains(String.format(Locale.ROOT, "%.6g", maxAbs(2))), r.out());

    assertBadInput(
        analysis("get-calibration-nodes-stat-info", "--nodes", "W_Hz"),
        "'W_Hz'",
        "W_HzCalibration");
    assertBadInput(
        analysis("get-calibration-nodes-stat-info", "--data-num", "7"), "--data-num", "6");
    assertBadInput(
        cli(
            "get-calibration-nodes-stat-info",
            "--model",
            tmp.resolve("none.onnx").toString(),
            "--calibration-data",
            data),
        "none.onnx");
    assertBadInput(
        cli(
            "get-calibration-nodes-stat-info",
            "--model",
            model,
            "--calibration-data",
            tmp.resolve("nodata").toString()),
        "nodata");
  }

  /** The CSV row of {@code node}. */
  static String[] row(List<String> csv, String node) {
    return csv.stream().filter(l -> l.startsWith(node + ",")).findFirst().orElseThrow().split(",");
  }

  /** A CSV list cell, {@code a;b;c}. */
  static double[] doubles(String cell) {
    return Arrays.stream(cell.split(";")).mapToDouble(Double::parseDouble).toArray();
  }

  /** The largest |x| over the first {@code n} calibration samples. */
  double maxAbs(int n) {
    double m = 0;
    for (int i = 0; i < n; i++) {
      m = Math.max(m, Npy.read(Path.of(data, "x", i + ".npy")).amaxNumber().doubleValue());
    }
    return m;
  }
}
