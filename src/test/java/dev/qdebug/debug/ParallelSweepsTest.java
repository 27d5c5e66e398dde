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
  void accumulatedErrorAndDiagnoseAreTheSameOnThreeThreads() throws Exception {
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
      Diagnose.Options o = Diagnose.Options.defaults().dataNum(8);
      Diagnose.Result d1 = on(1, () -> Diagnose.run(cal, d, o, Progress.NONE));
      Diagnose.Result d3 = on(3, () -> Diagnose.run(cal, d, o, Progress.NONE));
      assertTrue(d1.trialTable().rowCount() > 0, "diagnose tried fixes");
      same(d1.causeTable(), d3.causeTable());
      same(d1.trialTable(), d3.trialTable());
      same(d1.stepTable(), d3.stepTable());
      same(d1.summary(), d3.summary());
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
