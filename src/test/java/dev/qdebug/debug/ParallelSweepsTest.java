package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Progress;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.Calibrator;
import dev.qdebug.quant.QType;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import tech.tablesaw.api.Table;

/**
 * The analyses that re-run variants from a float snapshot give the same numbers, to the last bit,
 * whether their variants run on one thread or several ({@link Workers}).
 */
class ParallelSweepsTest {
  @TempDir Path tmp;

  @Test
  void accumulatedErrorLayerErrorAndDiagnoseAreTheSameOnThreeThreads() throws Exception {
    OnnxModel m =
        OnnxModel.load(Path.of(getClass().getResource("/models/mnasnet_like_op13.onnx").toURI()));
    var in = m.inputs().get(0);
    long[] shape = in.shape().clone();
    shape[0] = 1;
    Nd4j.getRandom().setSeed(11);
    for (int i = 0; i < 8; i++) {
      Npy.write(tmp.resolve("d/" + in.name() + "/" + i + ".npy"), Nd4j.randn(DataType.FLOAT, shape));
    }
    SampleSet d = SampleSet.open(tmp.resolve("d"), m.inputs());
    try (CalibratedModel cal =
        Calibrator.calibrate(
            m, d,
            Calibrator.Options.defaults().method(CalibrationMethod.MAX).weightType(QType.INT4),
            Progress.NONE)) {
      System.setProperty(Workers.THREADS_PROPERTY, "3");
      try {
        assertEquals(3, Workers.Sweep.of(cal.session(), d, 8, "test").threads(), "a small model");
      } finally {
        System.clearProperty(Workers.THREADS_PROPERTY);
      }
      AccumulatedError.Options ao = AccumulatedError.Options.defaults().dataNum(8);
      AccumulatedError.Result a1 = on(1, () -> AccumulatedError.run(cal, d, ao, Progress.NONE));
      AccumulatedError.Result a3 = on(3, () -> AccumulatedError.run(cal, d, ao, Progress.NONE));
      assertEquals(a1.plots().size(), a3.plots().size());
      for (int p = 0; p < a1.plots().size(); p++) {
        same(a1.plots().get(p).table(), a3.plots().get(p).table());
      }
      LayerError.Options lo = LayerError.Options.defaults().dataNum(8);
      Table l1 = on(1, () -> LayerError.run(cal, d, lo, Progress.NONE)).table();
      Table l3 = on(3, () -> LayerError.run(cal, d, lo, Progress.NONE)).table();
      assertTrue(l1.rowCount() > 10, "every calibration node measured");
      same(l1, l3);
      Diagnose.Options o = Diagnose.Options.defaults().dataNum(8);
      Diagnose.Result d1 = on(1, () -> Diagnose.run(cal, d, o, Progress.NONE));
      Diagnose.Result d3 = on(3, () -> Diagnose.run(cal, d, o, Progress.NONE));
      assertTrue(d1.trialTable().rowCount() > 0, "diagnose tried fixes");
      same(d1.causeTable(), d3.causeTable());
      same(d1.trialTable(), d3.trialTable());
      same(d1.stepTable(), d3.stepTable());
      same(d1.summary(), d3.summary());
      assertTrue(d1.samples().rowCount() > 0, "samples explained by their culprits");
      same(d1.samples(), d3.samples());
      assertEquals(d1.metrics().keySet(), d3.metrics().keySet());
      d1.metrics().forEach((k, v) -> assertArrayEquals(v, d3.metrics().get(k), k));
    }
  }

  /** Top-1 passes (diagnose with labeled data) run their batches on several threads alike. */
  @Test
  void diagnoseWithLabeledDataIsTheSameOnThreeThreads() {
    TwoBranch net = TwoBranch.write(tmp, 16, 80);
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      Diagnose.Options o = Diagnose.Options.defaults().dataset(net.labeled).top(3);
      Diagnose.Result d1 = on(1, () -> dbg.diagnose(o));
      Diagnose.Result d3 = on(3, () -> dbg.diagnose(o));
      assertTrue(d1.metrics().get("fixed")[1] > 0, "a top-1 was measured");
      d1.metrics().forEach((k, v) -> assertArrayEquals(v, d3.metrics().get(k), k));
      same(d1.causeTable(), d3.causeTable());
      same(d1.trialTable(), d3.trialTable());
      same(d1.stepTable(), d3.stepTable());
      same(d1.samples(), d3.samples());
      SampleSet labeled = SampleSet.open(net.labeled, dbg.model().floatModel().inputs());
      FixTrials.Shared shared = new FixTrials.Shared();
      int[] p1 =
          on(1, () -> FixTrials.predictions(dbg.model(), new FixTrials.Variant(),
              dbg.model().enabled(), labeled, 0, shared));
      System.setProperty(Workers.THREADS_PROPERTY, "3");
      try {
        assertEquals(3, Workers.Sweep.of(dbg.model().session(), labeled, 80, 2, "test").threads());
      } finally {
        System.clearProperty(Workers.THREADS_PROPERTY);
      }
      int[] p3 =
          on(3, () -> FixTrials.predictions(dbg.model(), new FixTrials.Variant(),
              dbg.model().enabled(), labeled, 0, shared));
      assertEquals(80, p1.length);
      assertArrayEquals(p1, p3);
    }
  }

  /**
   * Top-1 accuracy runs its batches on several threads: the same fraction, and a bad sample is
   * reported as one thread reports it, the first in sample order, even when a later batch fails
   * first.
   */
  @Test
  void accuracyIsTheSameOnThreeThreadsAndNamesTheFirstBadSample() throws Exception {
    TwoBranch net = TwoBranch.write(tmp, 16, 80);
    dev.qdebug.engine.MemoryBudget.setMaxBatch(8); // ten batches
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      CalibratedModel cal = dbg.model();
      SampleSet labeled = SampleSet.open(net.labeled, cal.floatModel().inputs());
      java.util.Set<String> all = java.util.Set.copyOf(cal.enabled());
      double f1 = on(1, () -> Accuracy.top1(cal, labeled, java.util.Set.of(), 0, Progress.NONE));
      double q1 = on(1, () -> Accuracy.top1(cal, labeled, all, 0, Progress.NONE));
      java.util.List<Long> seen = new java.util.ArrayList<>();
      double q3 = on(3, () -> Accuracy.top1(cal, labeled, all, 0, (t, done, total) -> seen.add(done)));
      assertEquals(1.0, f1, "labeled by the float model");
      assertEquals(q1, q3);
      assertEquals(80L, seen.get(seen.size() - 1), "progress reaches every sample");
      assertEquals(q1, on(3, () -> Accuracy.top1(cal, labeled, all, 0, Progress.NONE)));

      // samples 21 and 75 overflow float32 inside the model
      float[][] x = net.labeledX.clone();
      for (int bad : new int[] {21, 75}) {
        x[bad] = x[bad].clone();
        java.util.Arrays.fill(x[bad], 3e38f);
      }
      Path hostile = tmp.resolve("hostile");
      Npy.write(hostile.resolve("images.npy"), Nd4j.createFromArray(x));
      Npy.write(hostile.resolve("labels.npy"), Nd4j.createFromArray(net.labels));
      SampleSet h = SampleSet.open(hostile, cal.floatModel().inputs());
      for (int threads : new int[] {1, 3}) {
        dev.qdebug.DataException e =
            org.junit.jupiter.api.Assertions.assertThrows(
                dev.qdebug.DataException.class,
                () -> on(threads, () -> Accuracy.top1(cal, h, java.util.Set.of(), 0, Progress.NONE)));
        assertTrue(e.getMessage().contains("sample 21:"), threads + " threads: " + e.getMessage());
      }
    } finally {
      dev.qdebug.engine.MemoryBudget.setMaxBatch(dev.qdebug.engine.MemoryBudget.MAX_BATCH);
    }
  }

  private static <T> T on(int threads, Supplier<T> run) {
    System.setProperty(Workers.THREADS_PROPERTY, String.valueOf(threads));
    try {
      return run.get();
    } finally {
      System.clearProperty(Workers.THREADS_PROPERTY);
    }
  }

  private static void same(Table a, Table b) {
    assertEquals(a.columnNames(), b.columnNames(), a.name());
    assertEquals(a.rowCount(), b.rowCount(), a.name());
    for (int c = 0; c < a.columnCount(); c++) {
      for (int r = 0; r < a.rowCount(); r++) {
        assertEquals(a.column(c).get(r), b.column(c).get(r), a.name() + ": " + a.column(c).name() + " row " + r);
      }
    }
  }
}
