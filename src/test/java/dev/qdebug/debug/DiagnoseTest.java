package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.ModelException;
import dev.qdebug.Ort;
import dev.qdebug.Progress;
import dev.qdebug.TestModels;
import dev.qdebug.UsageException;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.Calibrator;
import dev.qdebug.quant.QType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import tech.tablesaw.api.Table;

/**
 * {@code diagnose} on hand-built models whose cause is known by construction: the diagnosis must
 * name it, the kept fix must recover the output, and the written model must run in ONNX Runtime
 * and give the reported numbers.
 */
class DiagnoseTest {
  @TempDir Path tmp;

  /** Writes {@code n} samples of shape {@code [1, dims...]} drawn by {@code gen}. */
  static SampleSet samples(Path dir, OnnxModel m, int n, long[] dims, java.util.function.DoubleSupplier gen) {
    String input = m.inputs().get(0).name();
    for (int i = 0; i < n; i++) {
      long size = 1;
      for (long d : dims) {
        size *= d;
      }
      float[] v = new float[(int) size];
      for (int k = 0; k < v.length; k++) {
        v[k] = (float) gen.getAsDouble();
      }
      long[] shape = new long[dims.length + 1];
      shape[0] = 1;
      System.arraycopy(dims, 0, shape, 1, dims.length);
      Npy.write(dir.resolve(input).resolve(i + ".npy"), Nd4j.createFromArray(v).reshape(shape));
    }
    return SampleSet.open(dir, m.inputs());
  }

  static CalibratedModel calibrate(OnnxModel m, SampleSet data, Calibrator.Options o) {
    return Calibrator.calibrate(m, data, o.method(CalibrationMethod.MAX), Progress.NONE);
  }

  /** The fixed model written by {@code r}: ORT runs it and agrees with qdebug's engine. */
  static CalibratedModel checkWritten(
      Diagnose.Result r, CalibratedModel original, Path file, SampleSet data, int n) {
    r.saveModel(file);
    CalibratedModel written = CalibratedModel.load(file);
    Map<String, INDArray> in = data.batch(0, n);
    String out = written.floatModel().outputs().get(0).name();
    INDArray ours = written.run(in, written.enabled(), RunOptions.defaults()).get(out);
    INDArray ort = Ort.run(OnnxModel.load(file).proto(), in, List.of(out)).get(out);
    float[] a = ours.dup('c').data().asFloat();
    float[] b = ort.dup('c').data().asFloat();
    float scale = 0;
    for (float x : b) {
      scale = Math.max(scale, Math.abs(x));
    }
    for (int i = 0; i < a.length; i++) {
      assertEquals(b[i], a[i], 1e-4 * scale + 1e-5, "element " + i);
    }
    // the reported output cosine is the written model's against the original float model
    INDArray ref = original.run(in, List.of(), RunOptions.defaults()).get(out);
    double cos = 0;
    for (int s = 0; s < n; s++) {
      cos +=
          Fixture.cosine(
              ref.slice(s).dup('c').data().asFloat(), ort.slice(s).dup('c').data().asFloat());
    }
    assertEquals(r.metrics().get("fixed")[0], cos / n, 1e-5);
    return written;
  }

  /**
   * One Conv with two outlier channels under per-tensor int4 weights: six of eight filters round
   * to 0. The cause is the stretched weight range; per-channel weights recover the output.
   */
  @Test
  void stretchedChannelsArePerChannelFixed() {
    Random r = new Random(3);
    float[] w = new float[8 * 4 * 3 * 3];
    for (int i = 0; i < w.length; i++) {
      int oc = i / 36;
      w[i] = (float) (r.nextGaussian() * 0.1 * (oc >= 6 ? 8 : 1));
    }
    OnnxModel m =
        TestModels.graph()
            .input("x", -1, 4, 8, 8)
            .initializer("W", w, 8, 4, 3, 3)
            .initializer("B", new float[8], 8)
            .node("Conv", "conv", new String[] {"x", "W", "B"}, new String[] {"y"})
            .output("y", -1, 8, 6, 6)
            .model();
    SampleSet data = samples(tmp.resolve("cal"), m, 16, new long[] {4, 8, 8}, r::nextGaussian);
    try (CalibratedModel cal =
        calibrate(m, data, Calibrator.Options.defaults().perChannel(false).weightType(QType.INT4))) {
      Diagnose.Result res = Diagnose.run(cal, data, Diagnose.Options.defaults(), Progress.NONE);
      assertEquals(List.of("conv"), res.nodes());
      assertEquals(Diagnose.STRETCHED, res.cause("conv"), res.causeTable().print());
      assertTrue(res.causes().get("conv").get(0).evidence().contains("largest/median channel range"));
      assertEquals(Diagnose.PER_CHANNEL, res.keptFix("conv").orElseThrow(), res.stepTable().print());
      double calibrated = res.metrics().get("calibrated")[0];
      double fixed = res.metrics().get("fixed")[0];
      assertTrue(calibrated < 0.99, "calibrated " + calibrated);
      assertTrue(fixed >= 0.99 && res.reached(), "fixed " + fixed);
      assertEquals(0, res.nodesInFloat());
      assertEquals(0, res.nodesInInt16());
      // the per-channel trial is the best of the free fixes, and leaving it in float is 1.0
      Diagnose.Trial pc =
          res.trials().stream().filter(t -> t.fix().equals(Diagnose.PER_CHANNEL)).findFirst().orElseThrow();
      assertTrue(pc.gain() > 0.01, "gain " + pc.gain());
      try (CalibratedModel written = checkWritten(res, cal, tmp.resolve("fixed.onnx"), data, 16)) {
        assertTrue(written.node("W_HzCalibration").params().perChannel());
      }
      assertTrue(!res.gallery().contains("data:image/png"), "4 channels are not drawn as an image");
      assertEquals(8, res.samples().rowCount(), "the 8 most degraded samples, one node to blame each");
      res.save(tmp.resolve("report"));
      for (String f :
          List.of("diagnose_causes.csv", "diagnose_trials.csv", "diagnose_trials.html", "diagnose_steps.csv",
              "diagnose_summary.csv", "diagnose_accuracy.csv", "diagnose_samples.csv", "diagnose_samples.html",
              "fixed_model.onnx")) {
        assertTrue(Files.exists(tmp.resolve("report").resolve(f)), f);
      }
    }
  }

  /**
   * A 1x1 Conv whose per-channel int8 weights all round down by 0.45 steps, on positive inputs:
   * every output channel shifts by a constant. The cause is the bias; bias correction, folded into
   * the written model's bias, removes it.
   */
  @Test
  void biasedOutputIsBiasCorrected() {
    Random r = new Random(5);
    int oc = 8;
    int ic = 16;
    float[] w = new float[oc * ic];
    for (int o = 0; o < oc; o++) {
      float s = 0.01f * (o + 1);
      for (int i = 0; i < ic; i++) {
        w[o * ic + i] = i == 0 ? 127.5f * s : (r.nextInt(201) - 100 + 0.45f) * s;
      }
    }
    float[] b = new float[oc];
    for (int o = 0; o < oc; o++) {
      b[o] = 0.5f;
    }
    OnnxModel m =
        TestModels.graph()
            .input("x", -1, ic, 4, 4)
            .initializer("W", w, oc, ic, 1, 1)
            .initializer("B", b, oc)
            .node("Conv", "conv", new String[] {"x", "W", "B"}, new String[] {"y"})
            .output("y", -1, oc, 4, 4)
            .model();
    SampleSet data = samples(tmp.resolve("cal"), m, 16, new long[] {ic, 4, 4}, () -> 0.5 + r.nextDouble());
    try (CalibratedModel cal = calibrate(m, data, Calibrator.Options.defaults())) {
      Diagnose.Result res =
          Diagnose.run(cal, data, Diagnose.Options.defaults().target(0.99999), Progress.NONE);
      assertEquals(Diagnose.BIAS, res.cause("conv"), res.causeTable().print());
      assertEquals(Diagnose.BIAS_CORRECTION, res.keptFix("conv").orElseThrow(), res.stepTable().print());
      double calibrated = res.metrics().get("calibrated")[0];
      double fixed = res.metrics().get("fixed")[0];
      assertTrue(
          fixed > calibrated && (1 - fixed) < 0.5 * (1 - calibrated),
          calibrated + " -> " + fixed + res.stepTable().print() + res.trialTable().print() + res.causeTable().print());
      try (CalibratedModel written = checkWritten(res, cal, tmp.resolve("fixed.onnx"), data, 16)) {
        // folded into the existing bias: same graph, bias moved below 0.5
        assertEquals(1, written.floatModel().nodes().size());
        float[] nb = written.session().plan().constant("B").dup().data().asFloat();
        for (float x : nb) {
          assertTrue(x > 0.5f, "the quantized output runs low, so the bias rises: " + x);
        }
      }
    }
  }

  /**
   * Conv-Relu-Conv whose filters' ranges differ by 4^7 and whose second layer scales them back,
   * per-tensor int8: equalization is tried on the pair, gains output cosine, and when kept the
   * written model's float function is the original's (checked in ONNX Runtime).
   */
  @Test
  void unbalancedPairIsEqualized() {
    Random r = new Random(7);
    OnnxModel m = dev.qdebug.quant.CrossLayerEqualizationTest.convReluConv(r);
    SampleSet data = samples(tmp.resolve("cal"), m, 16, new long[] {4, 6, 6}, r::nextGaussian);
    try (CalibratedModel cal = calibrate(m, data, Calibrator.Options.defaults().perChannel(false))) {
      Diagnose.Result res =
          Diagnose.run(cal, data, Diagnose.Options.defaults().nodes(List.of("c1")).target(1), Progress.NONE);
      Diagnose.Trial cle =
          res.trials().stream()
              .filter(t -> t.fix().equals(Diagnose.EQUALIZE + " with c2"))
              .findFirst()
              .orElseThrow(() -> new AssertionError(res.trialTable().print()));
      assertTrue(cle.gain() > 0, res.trialTable().print());
      assertEquals(Diagnose.STRETCHED, res.cause("c1"), res.causeTable().print());
      // no bias correction kept: the float graph of the fixed model is the original's function
      assertTrue(res.kept().stream().noneMatch(k -> k.fix().equals(Diagnose.BIAS_CORRECTION)));
      OnnxModel eq = res.fixedFloatModel();
      Map<String, INDArray> in = data.batch(0, 4);
      INDArray before = Ort.run(m.proto(), in, List.of("y")).get("y");
      INDArray after = Ort.run(eq.proto(), in, List.of("y")).get("y");
      float[] a = before.dup('c').data().asFloat();
      float[] b = after.dup('c').data().asFloat();
      for (int i = 0; i < a.length; i++) {
        assertEquals(a[i], b[i], 1e-4 * (1 + Math.abs(a[i])), "element " + i);
      }
      checkWritten(res, cal, tmp.resolve("cle.onnx"), data, 16).close();
    }
  }

  /**
   * A Conv whose input is Gaussian except for four spikes of 40 in 32 samples: under max
   * calibration the int8 step is set by the spikes and the bulk rounds coarsely. The cause is the
   * long tail (max far beyond the 99.99th percentile, error from rounding, not clipping); the kept
   * fix recovers the output.
   */
  @Test
  void longTailedActivation() {
    Random r = new Random(13);
    float[] w = new float[8 * 8 * 3 * 3];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (r.nextGaussian() * 0.2);
    }
    OnnxModel m =
        TestModels.graph()
            .input("x", -1, 8, 16, 16)
            .initializer("W", w, 8, 8, 3, 3)
            .node("Conv", "conv", new String[] {"x", "W"}, new String[] {"y"})
            .output("y", -1, 8, 14, 14)
            .model();
    int[] count = {0};
    SampleSet data =
        samples(tmp.resolve("cal"), m, 32, new long[] {8, 16, 16}, () -> {
          int i = count[0]++;
          return i % 2048 == 1000 && i < 4 * 2048 ? 40 : r.nextGaussian();
        });
    try (CalibratedModel cal = calibrate(m, data, Calibrator.Options.defaults())) {
      Diagnose.Result res =
          Diagnose.run(cal, data, Diagnose.Options.defaults().dataNum(32).target(0.9995), Progress.NONE);
      assertEquals(Diagnose.LONG_TAIL, res.cause("conv"), res.causeTable().print());
      double calibrated = res.metrics().get("calibrated")[0];
      double fixed = res.metrics().get("fixed")[0];
      assertTrue(calibrated < 0.9995 && fixed >= 0.9995 && res.reached(),
          calibrated + " -> " + fixed + res.stepTable().print() + res.trialTable().print());
      assertEquals(0, res.nodesInFloat(), res.stepTable().print());
    }
  }

  /**
   * Per-channel int4 weights where every filter has one weight 20 times the others' spread: the
   * bulk of each filter rounds to 0. The cause is the outliers inside channels. Clipping each
   * channel's range where the weights' squared error is least (mse weight range) is tried and
   * kept for its small gain, but the outliers carry much of the output, so only int16 weights
   * reach the target: the fixed model raises this one node to int16, none stays in float.
   */
  @Test
  void weightOutliersInsideChannelsAreClipped() {
    Random r = new Random(17);
    float[] w = new float[8 * 16 * 3 * 3];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (i % 144 == 7 ? 20 * 0.1 : r.nextGaussian() * 0.1);
    }
    OnnxModel m =
        TestModels.graph()
            .input("x", -1, 16, 6, 6)
            .initializer("W", w, 8, 16, 3, 3)
            .node("Conv", "conv", new String[] {"x", "W"}, new String[] {"y"})
            .output("y", -1, 8, 4, 4)
            .model();
    SampleSet data = samples(tmp.resolve("cal"), m, 16, new long[] {16, 6, 6}, r::nextGaussian);
    try (CalibratedModel cal = calibrate(m, data, Calibrator.Options.defaults().weightType(QType.INT4))) {
      Diagnose.Result res = Diagnose.run(cal, data, Diagnose.Options.defaults(), Progress.NONE);
      assertEquals(Diagnose.WEIGHT_OUTLIERS, res.cause("conv"), res.causeTable().print());
      Diagnose.Trial clip =
          res.trials().stream().filter(t -> t.fix().equals(Diagnose.MSE_WEIGHTS)).findFirst().orElseThrow();
      assertTrue(clip.gain() > 0, res.trialTable().print());
      assertEquals(Diagnose.INT16_WEIGHTS, res.keptFix("conv").orElseThrow(), res.stepTable().print());
      assertTrue(res.reached() && res.metrics().get("fixed")[0] >= 0.99);
      assertEquals(1, res.nodesInInt16());
      assertEquals(0, res.nodesInFloat());
      try (CalibratedModel written = checkWritten(res, cal, tmp.resolve("fixed.onnx"), data, 16)) {
        assertEquals(QType.INT16, written.node("W_HzCalibration").params().type());
      }
    }
  }

  /**
   * A biased 1x1 convolution feeding a second one whose weights are exact on their int8 grid: the
   * second's only error is its input activation, and int16 for that activation is its only helpful
   * fix. The first node's bias correction changes that tensor, so the calibration rounds leave the
   * second's activation alone; the fallback then raises it to int16 rather than leave the node in
   * float (int16 costs an accelerator less than float).
   */
  @Test
  void int16FallbackComesBeforeFloat() {
    Random r = new Random(5);
    int c = 16;
    float[] w1 = new float[c * c];
    float[] w2 = new float[c * c];
    for (int o = 0; o < c; o++) {
      float s = 0.01f * (o + 1);
      for (int i = 0; i < c; i++) {
        w1[o * c + i] = i == 0 ? 127.5f * s : (r.nextInt(201) - 100 + 0.45f) * s;
        w2[o * c + i] = i == 0 ? 127 * s : (r.nextInt(201) - 100) * s;
      }
    }
    OnnxModel m =
        TestModels.graph()
            .input("x", -1, c, 4, 4)
            .initializer("W1", w1, c, c, 1, 1)
            .initializer("B1", new float[c], c)
            .initializer("W2", w2, c, c, 1, 1)
            .node("Conv", "conv1", new String[] {"x", "W1", "B1"}, new String[] {"h"})
            .node("Conv", "conv2", new String[] {"h", "W2"}, new String[] {"y"})
            .output("y", -1, c, 4, 4)
            .model();
    SampleSet data = samples(tmp.resolve("cal"), m, 16, new long[] {c, 4, 4}, () -> 0.5 + r.nextDouble());
    try (CalibratedModel cal = calibrate(m, data, Calibrator.Options.defaults())) {
      Diagnose.Result res =
          Diagnose.run(cal, data, Diagnose.Options.defaults().target(0.99999), Progress.NONE);
      String steps = res.stepTable().print();
      assertEquals(Diagnose.INT16_ACTIVATION, res.keptFix("conv2").orElseThrow(), steps);
      assertTrue(steps.contains("int16 activation (fallback)"), steps);
      assertTrue(res.reached(), steps);
      assertEquals(0, res.nodesInFloat(), steps);
      try (CalibratedModel written = checkWritten(res, cal, tmp.resolve("fixed.onnx"), data, 16)) {
        assertEquals(QType.INT16, written.node("h_HzCalibration").params().type());
      }
    }
  }

  @Test
  void thumbnailsOfImageLikeInputsOnly() {
    String png = SampleCulprits.thumbnail(Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, 1, 28, 28));
    byte[] bytes = java.util.Base64.getDecoder().decode(png);
    assertEquals((byte) 0x89, bytes[0]);
    assertEquals('P', bytes[1]);
    assertTrue(SampleCulprits.thumbnail(Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, 3, 8, 8)) != null);
    assertEquals(null, SampleCulprits.thumbnail(Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, 4, 8, 8)));
    assertEquals(null, SampleCulprits.thumbnail(Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, 16)));
  }

  /** Bad input: an unknown node, a target outside (0, 1], a top-1 target without labeled data. */
  @Test
  void badInput() {
    assertThrows(UsageException.class, () -> Diagnose.Options.defaults().target(0));
    assertThrows(UsageException.class, () -> Diagnose.Options.defaults().target(1.5));
    assertThrows(
        UsageException.class,
        () -> Diagnose.Options.defaults().targetMetric(Diagnose.TargetMetric.TOP1));
    assertThrows(UsageException.class, () -> Diagnose.Options.defaults().top(0));
    TwoBranch net = TwoBranch.write(tmp, 16, 8);
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      ModelException e =
          assertThrows(
              ModelException.class,
              () -> dbg.diagnose(Diagnose.Options.defaults().nodes(List.of("mm_c"))));
      assertTrue(e.getMessage().contains("mm_c") && e.getMessage().contains("mm_a"), e.getMessage());
    }
  }

  /**
   * The two-branch net with labeled data (its Wb's per-tensor range is set by a row of ±1000 that
   * multiplies an input that is always 0): the target is top-1, the fixed model reaches it, and
   * the written model evaluates to the reported top-1.
   */
  @Test
  void accuracyTargetOnTwoBranch() {
    TwoBranch net = TwoBranch.write(tmp, 16, 80);
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      Diagnose.Result res =
          dbg.diagnose(Diagnose.Options.defaults().dataset(net.labeled).top(3));
      assertEquals("mm_b", res.nodes().get(0));
      double floatTop1 = res.metrics().get("float")[1];
      double fixedTop1 = res.metrics().get("fixed")[1];
      assertTrue(res.metrics().get("calibrated")[1] < 0.99 * floatTop1);
      assertTrue(res.reached() && fixedTop1 >= 0.99 * floatTop1, res.stepTable().print());
      assertTrue(res.keptFix("mm_b").isPresent(), res.summary().print());
      // flipped samples are explained, mm_b first (quantized alone it zeroes branch b)
      Table samples = res.samples();
      assertTrue(samples.rowCount() > 0, "some samples flip under quantization");
      for (int i = 0; i < samples.rowCount(); i++) {
        if (samples.intColumn("culprit-rank").get(i) == 1) {
          assertEquals("mm_b", samples.stringColumn("node").get(i), samples.print());
        }
      }
      assertTrue(res.gallery().contains("sample ") && res.gallery().contains("mm_b"));
      try (CalibratedModel written = CalibratedModel.load(save(res))) {
        SampleSet labeled = SampleSet.open(net.labeled, written.floatModel().inputs());
        assertEquals(fixedTop1, Accuracy.top1(written, labeled, written.enabled(), 0, Progress.NONE), 1e-12);
      }
    }
  }

  /** {@code runall} with a labeled set writes the diagnose section, linked from the index. */
  @Test
  void runallWritesTheDiagnoseSection() throws Exception {
    TwoBranch net = TwoBranch.write(tmp, 16, 40);
    Path dir = tmp.resolve("report");
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      dbg.runall(dir, RunAll.Options.defaults().dataset(net.labeled));
    }
    for (String f : List.of("diagnose_summary.csv", "diagnose_accuracy.csv", "diagnose_samples.csv", "diagnose_samples.html",
              "fixed_model.onnx")) {
      assertTrue(Files.exists(dir.resolve("diagnose").resolve(f)), f);
    }
    assertTrue(Files.readString(dir.resolve("index.html")).contains("diagnose/diagnose_summary.csv"));
  }

  /**
   * Streaming: the trials, the greedy steps and the fixed model's numbers do not depend on how
   * the samples are batched (every sample alone against batches of up to 16).
   */
  @Test
  void batchedEqualsSingleSampleBatches() {
    TwoBranch net = TwoBranch.write(tmp, 16, 80);
    Diagnose.Options o = Diagnose.Options.defaults().dataset(net.labeled).top(3).samples(0);
    Diagnose.Result batched;
    Diagnose.Result single;
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      batched = dbg.diagnose(o);
    }
    dev.qdebug.engine.MemoryBudget.setMaxBatch(1);
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      single = dbg.diagnose(o);
    } finally {
      dev.qdebug.engine.MemoryBudget.setMaxBatch(dev.qdebug.engine.MemoryBudget.MAX_BATCH);
    }
    assertEquals(single.trials().size(), batched.trials().size());
    for (int i = 0; i < single.trials().size(); i++) {
      Diagnose.Trial a = single.trials().get(i);
      Diagnose.Trial b = batched.trials().get(i);
      assertEquals(a.node() + " " + a.fix(), b.node() + " " + b.fix());
      assertEquals(a.baseline(), b.baseline(), 1e-5, a.toString());
      assertEquals(a.cosine(), b.cosine(), 1e-5, a.toString());
      assertEquals(a.baselineTop1(), b.baselineTop1(), 1e-12, a.toString());
      assertEquals(a.top1(), b.top1(), 1e-12, a.toString());
    }
    assertEquals(single.kept(), batched.kept());
    for (String k : single.metrics().keySet()) {
      assertEquals(single.metrics().get(k)[0], batched.metrics().get(k)[0], 1e-5, k);
      assertEquals(single.metrics().get(k)[1], batched.metrics().get(k)[1], 1e-12, k);
    }
  }

  /** One streamed pass gives each trial the numbers it gets measured alone, in any batching. */
  @Test
  void streamedPassEqualsOneTrialAtATime() {
    TwoBranch net = TwoBranch.write(tmp, 16, 40);
    try (CalibratedModel cal = CalibratedModel.load(net.calibratedModel)) {
      SampleSet labeled = SampleSet.open(net.labeled, cal.floatModel().inputs());
      List<FixTrials.Trial> trials = new java.util.ArrayList<>();
      for (List<String> scope :
          List.of(TwoBranch.calibrationsOf("mm_b"), TwoBranch.calibrationsOf("mm_a"), TwoBranch.all())) {
        trials.add(new FixTrials.Trial(new FixTrials.Variant(), new java.util.LinkedHashSet<>(scope)));
      }
      FixTrials.Variant off = new FixTrials.Variant();
      off.disable.addAll(TwoBranch.calibrationsOf("mm_b"));
      trials.add(new FixTrials.Trial(off, new java.util.LinkedHashSet<>(TwoBranch.all())));
      FixTrials.Shared shared = new FixTrials.Shared();
      FixTrials.Scores all = FixTrials.measure(cal, labeled, 40, trials, labeled.labels(), shared, null, () -> {});
      dev.qdebug.engine.MemoryBudget.setMaxBatch(1);
      try {
        for (int i = 0; i < trials.size(); i++) {
          FixTrials.Scores one =
              FixTrials.measure(cal, labeled, 40, List.of(trials.get(i)), labeled.labels(), shared, null, () -> {});
          assertEquals(one.cosine[0], all.cosine[i], 1e-6, "trial " + i);
          assertEquals(one.top1(0), all.top1(i), 1e-12, "trial " + i);
          // and top-1 as a plain forward pass with the trial's hook counts it
          assertEquals(
              FixTrials.top1(cal, trials.get(i).variant(), trials.get(i).scope(), labeled, 40, shared),
              all.top1(i), 1e-12, "trial " + i);
        }
      } finally {
        dev.qdebug.engine.MemoryBudget.setMaxBatch(dev.qdebug.engine.MemoryBudget.MAX_BATCH);
      }
      assertEquals(1.0, all.floatTop1(), 1e-12, "the labels are the float model's decisions");
      assertTrue(all.top1(0) < all.top1(3), "mm_b quantized loses top-1, in float it does not");
    }
  }

  /** Fix trials with a labeled set are ranked by top-1 gain first, then output cosine gain. */
  @Test
  void trialsRankByTop1GainThenCosine() {
    Diagnose.Trial cosineOnly = new Diagnose.Trial("n", "a", 0.90, 0.99, 0.50, 0.50);
    Diagnose.Trial top1 = new Diagnose.Trial("n", "b", 0.90, 0.91, 0.50, 0.60);
    Diagnose.Trial both = new Diagnose.Trial("n", "c", 0.90, 0.95, 0.50, 0.60);
    Diagnose.Trial unlabeled = new Diagnose.Trial("n", "d", 0.90, 0.98);
    List<Diagnose.Trial> sorted =
        java.util.stream.Stream.of(cosineOnly, top1, both).sorted(Diagnose.Trial.BY_GAIN).toList();
    assertEquals(List.of(both, top1, cosineOnly), sorted);
    assertEquals(0.10, both.top1Gain(), 1e-12);
    assertTrue(!unlabeled.hasTop1() && Double.isNaN(unlabeled.top1Gain()));
    // without top-1, output cosine decides
    assertEquals(
        List.of(cosineOnly, unlabeled),
        java.util.stream.Stream.of(unlabeled, cosineOnly).sorted(Diagnose.Trial.BY_GAIN).toList());
    // on a real run with a labeled set the trials carry top-1 (the reference and the candidates)
    TwoBranch net = TwoBranch.write(tmp, 16, 80);
    try (Debugger dbg = Debugger.open(net.calibratedModel, net.calibration)) {
      Diagnose.Result res = dbg.diagnose(Diagnose.Options.defaults().dataset(net.labeled).top(3).samples(0));
      for (Diagnose.Trial t : res.trials()) {
        if (t.fix().equals(Diagnose.FLOAT) || t.gain() > 1e-7) {
          assertTrue(t.hasTop1(), t.toString());
        }
      }
      Diagnose.Trial mmB =
          res.trials().stream()
              .filter(t -> t.node().equals("mm_b") && t.fix().equals(Diagnose.FLOAT))
              .findFirst()
              .orElseThrow();
      assertTrue(mmB.top1Gain() > 0, mmB.toString());
      assertTrue(res.trialTable().columnNames().contains("top-1-gain"), res.trialTable().print());
    }
  }

  /**
   * Sequential bias correction of a Conv-Relu-Conv chain under int4 weights: each convolution's
   * shift is measured with the one before already quantized and corrected, so the corrected
   * model's output has the float output's per-channel mean on the calibration samples (a
   * correction of the last convolution alone, measured with the first in float, does not).
   */
  @Test
  void sequentialBiasCorrectionRemovesTheAccumulatedShift() {
    Random r = new Random(11);
    int c = 8;
    float[] w1 = new float[c * c];
    float[] w2 = new float[c * c];
    for (int i = 0; i < w1.length; i++) {
      w1[i] = (float) (r.nextGaussian() * 0.3 + 0.05);
      w2[i] = (float) (r.nextGaussian() * 0.3 + 0.05);
    }
    OnnxModel m =
        TestModels.graph()
            .input("x", -1, c, 4, 4)
            .initializer("W1", w1, c, c, 1, 1)
            .initializer("B1", new float[c], c)
            .initializer("W2", w2, c, c, 1, 1)
            .initializer("B2", new float[c], c)
            .node("Conv", "conv1", new String[] {"x", "W1", "B1"}, new String[] {"h"})
            .node("Relu", "relu", new String[] {"h"}, new String[] {"hr"})
            .node("Conv", "conv2", new String[] {"hr", "W2", "B2"}, new String[] {"y"})
            .output("y", -1, c, 4, 4)
            .model();
    SampleSet data = samples(tmp.resolve("cal"), m, 16, new long[] {c, 4, 4}, () -> 0.5 + r.nextDouble());
    try (CalibratedModel cal =
        calibrate(m, data, Calibrator.Options.defaults().perChannel(false).weightType(QType.INT4))) {
      FixTrials.Shared shared = new FixTrials.Shared();
      FixTrials.Variant seq =
          Diagnose.sequentialBiasCorrection(cal, data, 16, new FixTrials.Variant(), shared, Progress.NONE);
      assertEquals(List.of("h", "y"), List.copyOf(seq.shifts.keySet()));
      Map<String, INDArray> in = data.batch(0, 16);
      float[] f = channelMeans(cal.run(in, List.of(), RunOptions.outputs("y")).get("y"));
      float[] q = channelMeans(
          cal.session().run(in, RunOptions.outputs("y").hook(FixTrials.hook(cal, new FixTrials.Variant(), cal.enabled(), shared))).get("y"));
      float[] s = channelMeans(
          cal.session().run(in, RunOptions.outputs("y").hook(FixTrials.hook(cal, seq, cal.enabled(), shared))).get("y"));
      double before = 0;
      double after = 0;
      for (int k = 0; k < c; k++) {
        before = Math.max(before, Math.abs(q[k] - f[k]));
        after = Math.max(after, Math.abs(s[k] - f[k]));
      }
      assertTrue(before > 1e-2, "int4 weights shift the output: " + before);
      assertTrue(after < 1e-4, "corrected, the output's channel means are the float ones: " + after);
      // written, the shifts are folded into the biases: same graph, ORT agrees
      Path file = tmp.resolve("seq.onnx");
      try (CalibratedModel fixed =
          new CalibratedModel(seq.floatModel(cal.floatModel()), seq.nodes(cal), seq.enabled(cal.enabled()))) {
        fixed.save(file, fixed.enabled());
      }
      assertEquals(3, OnnxModel.load(file).nodes().stream().filter(x -> !x.opType().endsWith("Linear")).count());
      INDArray ort = Ort.run(OnnxModel.load(file).proto(), in, List.of("y")).get("y");
      float[] o = channelMeans(ort);
      for (int k = 0; k < c; k++) {
        assertEquals(s[k], o[k], 1e-4, "channel " + k);
      }
    }
  }

  private static float[] channelMeans(INDArray y) {
    float[] v = y.dup('c').data().asFloat();
    long[] sh = y.shape();
    int c = (int) sh[1];
    long inner = sh[2] * sh[3];
    double[] sum = new double[c];
    for (int e = 0; e < v.length; e++) {
      sum[(int) ((e / inner) % c)] += v[e];
    }
    float[] out = new float[c];
    for (int k = 0; k < c; k++) {
      out[k] = (float) (sum[k] / (v.length / c));
    }
    return out;
  }

  /** {@code runall} skips diagnose when the calibrated model already meets its target. */
  @Test
  void runallSkipsDiagnoseWhenTheTargetIsMet() throws Exception {
    TwoBranch net = TwoBranch.write(tmp, 16, 40);
    Path good = tmp.resolve("good.onnx");
    try (CalibratedModel cal = CalibratedModel.load(net.calibratedModel)) {
      java.util.Set<String> on = new java.util.LinkedHashSet<>(cal.enabled());
      on.removeAll(TwoBranch.calibrationsOf("mm_b"));
      cal.save(good, on);
    }
    Path dir = tmp.resolve("report");
    try (Debugger dbg = Debugger.open(good, net.calibration)) {
      dbg.runall(dir, RunAll.Options.defaults().dataset(net.labeled));
    }
    assertTrue(Files.exists(dir.resolve("accuracy")));
    assertTrue(!Files.exists(dir.resolve("diagnose")), "diagnose/ is not written");
    String index = Files.readString(dir.resolve("index.html"));
    assertTrue(index.contains("nothing to fix, so diagnose/ is not written"), index);
  }

  private Path save(Diagnose.Result r) {
    Path p = tmp.resolve("two_branch_fixed.onnx");
    r.saveModel(p);
    return p;
  }
}
