package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.DataException;
import dev.qdebug.UsageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tutorial's accuracy table on the two-branch net, whose mm_b branch is the damaging one by
 * construction: every row's accuracy must equal the plain-Java net's brute-force accuracy of the
 * same variant.
 */
class AccuracyTableTest {
  @TempDir static Path tmp;
  static TwoBranch net;

  @BeforeAll
  static void setUp() {
    net = TwoBranch.write(tmp, 8, 80);
  }

  static double accuracy(List<String> on, int n) {
    float[][] out = net.forward(net.labeledX, on).get("out");
    int ok = 0;
    for (int i = 0; i < n; i++) {
      ok += TwoBranch.argmax(out[i]) == net.labels[i] ? 1 : 0;
    }
    return (double) ok / n;
  }

  @Test
  void everyRowMatchesTheIndependentNet() throws Exception {
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      AccuracyTable.Result r = dbg.accuracyTable(AccuracyTable.Options.of(net.labeled).topK(1, 2));
      assertEquals(
          List.of(
              "model", "strategy", "float-accuracy", "calibration-method", "quantized-accuracy",
              "percent-of-float", "nodes-in-float", "calibration-nodes-off"),
          r.table().columnNames());
      assertEquals(
          List.of("float", "calibrated", "top 1 sensitive node in float", "top 2 sensitive nodes in float"),
          r.table().stringColumn("strategy").asList());
      assertEquals(1.0, r.floatAccuracy(), "labels are the float model's decisions");
      List<String> ranking = dbg.getSensitivityOfNodes(
          NodeSensitivity.Options.defaults().dataNum(0)).ranking();
      assertEquals("mm_b", ranking.get(0), "by construction");
      for (int k = 0; k <= 2; k++) {
        List<String> on = new ArrayList<>(TwoBranch.all());
        on.removeAll(TwoBranch.calibrationsOf(ranking.subList(0, k).toArray(String[]::new)));
        double want = accuracy(on, 80);
        assertEquals(want, r.accuracy(AccuracyTable.strategy(k)), 1e-12, "k = " + k);
        assertEquals(100 * want, r.table().doubleColumn("percent-of-float").get(k + 1), 1e-9);
        assertEquals(TwoBranch.all().size() - on.size(), r.table().intColumn("calibration-nodes-off").get(k + 1));
      }
      assertTrue(r.calibratedAccuracy() < 0.8, "the calibrated model is poor: " + r.calibratedAccuracy());
      assertEquals(1.0, r.accuracy("top 1 sensitive node in float"), 1e-12, "mm_b in float restores it");
      assertTrue(r.table().name().contains("80 samples"), r.table().name());

      AccuracyTable.Result first = dbg.accuracyTable(AccuracyTable.Options.of(net.labeled).evalNum(20));
      assertEquals(2, first.table().rowCount(), "float and calibrated only");
      assertEquals(accuracy(TwoBranch.all(), 20), first.calibratedAccuracy(), 1e-12, "the first 20 samples");

      AccuracyTable.Result known = dbg.accuracyTable(AccuracyTable.Options.of(net.labeled).floatAccuracy(0.5));
      assertEquals(0.5, known.floatAccuracy(), "a known float accuracy is used, not recomputed");
      assertEquals(200 * r.calibratedAccuracy(), known.table().doubleColumn("percent-of-float").get(1), 1e-9);
      double low = r.calibratedAccuracy();
      AutoPartialQuantization.Result auto = dbg.autoPartialQuantization(
          AutoPartialQuantization.Options.defaults().dataset(net.labeled).floatAccuracy(low));
      assertEquals(low, auto.floatAccuracy(), "a known float accuracy is used, not recomputed");
      assertEquals(0, auto.k(), "99% of the calibrated model's own accuracy is met by it");

      r.save(tmp.resolve("acc"));
      assertTrue(Files.readString(tmp.resolve("acc/accuracy.csv")).startsWith("model,strategy,float-accuracy"));
      assertTrue(Files.readString(tmp.resolve("acc/accuracy.html")).contains("top-1 accuracy"));
    }
  }

  @Test
  void badOptionsNameTheOptionOrFile() {
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      var k = assertThrows(UsageException.class,
          () -> dbg.accuracyTable(AccuracyTable.Options.of(net.labeled).topK(9)));
      assertTrue(k.getMessage().contains("--top-k") && k.getMessage().contains("9"), k.getMessage());
      var n = assertThrows(UsageException.class,
          () -> dbg.accuracyTable(AccuracyTable.Options.of(net.labeled).evalNum(81)));
      assertTrue(n.getMessage().contains("--eval-num"), n.getMessage());
      var d = assertThrows(DataException.class, () -> dbg.accuracyTable(AccuracyTable.Options.of(net.calibration)));
      assertTrue(d.getMessage().contains("labels.npy"), d.getMessage());
      assertThrows(UsageException.class, () -> AccuracyTable.Options.of(net.labeled).topK(-1));
    }
  }
}
