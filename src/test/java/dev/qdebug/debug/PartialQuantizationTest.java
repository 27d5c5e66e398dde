package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.UsageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The partial-quantization curve on the two-branch net, against its plain-Java implementation. */
class PartialQuantizationTest {
  @TempDir static Path tmp;
  static TwoBranch net;
  static final int N = 5;

  @BeforeAll
  static void setUp() {
    net = TwoBranch.write(tmp, N, 4);
  }

  /** Output cosine with exactly {@code on} quantized, mean over the calibration samples. */
  static double outputCosine(List<String> on) {
    Map<String, float[][]> f = net.forward(net.calibrationX, List.of());
    return TwoBranch.meanCosine(f, net.forward(net.calibrationX, on), "out");
  }

  static List<String> allBut(List<String> off) {
    List<String> on = new ArrayList<>(TwoBranch.all());
    on.removeAll(off);
    return on;
  }

  @Test
  void picksTheBadBranchAndDrawsBothCurves() throws Exception {
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      PartialQuantization.Result r =
          dbg.sensitivityAnalysis(PartialQuantization.Options.defaults().dataNum(N));
      assertEquals(List.of("mm_b"), r.sensitiveNodes(), "only mm_b is below 0.999");
      double[] red = r.partialQuantization();
      double[] green = r.nodeAlone();
      assertEquals(outputCosine(TwoBranch.all()), red[0], 1e-6, "none: the calibrated model");
      assertEquals(outputCosine(allBut(TwoBranch.calibrationsOf("mm_b"))), red[1], 1e-6);
      assertTrue(red[1] > 0.999 && red[0] < 0.99, "leaving mm_b in float repairs it: " + red[0] + " -> " + red[1]);
      assertTrue(Double.isNaN(green[0]));
      assertEquals(outputCosine(TwoBranch.calibrationsOf("mm_b")), green[1], 1e-6, "mm_b alone");

      r.save(tmp.resolve("out"));
      List<String> csv = Files.readAllLines(tmp.resolve("out/partial_quantization.csv"));
      assertEquals(
          "node,float-nodes,partial-quantization-cosine-similarity,node-alone-cosine-similarity",
          csv.get(0));
      assertTrue(csv.get(1).startsWith("none,0,") && csv.get(2).startsWith("mm_b,1,"), csv.toString());
      String html = Files.readString(tmp.resolve("out/partial_quantization.html"));
      assertTrue(html.contains("Partial quantization analysis") && html.contains("float (1.0)")
          && html.contains("this node quantized alone")
          && html.contains("top nodes up to this one in float"), "title and legend");
    }
  }

  @Test
  void givenNodesAreDequantizedCumulativelyInTheirOrder() {
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      PartialQuantization.Result r =
          dbg.sensitivityAnalysis(
              PartialQuantization.Options.defaults().dataNum(0).sensitiveNodes(List.of("add", "mm_a", "mm_b")));
      assertEquals(List.of("none", "add", "mm_a", "mm_b"), r.table().stringColumn("node").asList());
      double[] red = r.partialQuantization();
      double[] green = r.nodeAlone();
      assertEquals(outputCosine(allBut(TwoBranch.calibrationsOf("add"))), red[1], 1e-6);
      assertEquals(outputCosine(allBut(TwoBranch.calibrationsOf("add", "mm_a"))), red[2], 1e-6);
      assertEquals(1.0, red[3], 1e-9, "everything in float");
      assertEquals(outputCosine(TwoBranch.calibrationsOf("mm_a")), green[2], 1e-6);
      assertEquals(outputCosine(TwoBranch.calibrationsOf("add")), green[1], 1e-6);
    }
  }

  @Test
  void thresholdOnePicksEveryNodeWorstFirst() {
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      PartialQuantization.Result r =
          dbg.sensitivityAnalysis(PartialQuantization.Options.defaults().dataNum(N).pickThreshold(1.0));
      assertEquals(3, r.sensitiveNodes().size());
      assertEquals("mm_b", r.sensitiveNodes().get(0));
      var e = assertThrows(UsageException.class,
          () -> dbg.sensitivityAnalysis(PartialQuantization.Options.defaults().sensitiveNodes(List.of("relu"))));
      assertTrue(e.getMessage().contains("--sensitive-nodes") && e.getMessage().contains("relu"), e.getMessage());
    }
  }
}
