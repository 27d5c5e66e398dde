package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.TestModels;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.Calibrator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A classifier with two parallel branches whose answer is known by construction: {@code out =
 * Relu(x·Wa + x·Wb)}, nodes {@code mm_a}, {@code mm_b} (MatMul), {@code add}, {@code relu}. Input
 * feature 7 is always 0, and row 7 of {@code Wb} is ±1000: it changes nothing in float, but it
 * sets Wb's per-tensor int8 range, so the int8 step (1000/127.5) rounds every other weight of Wb
 * (|w| ≤ 3) to 0 and the quantized branch b is exactly 0. Everything else quantizes well. So
 * {@code mm_b} (its calibration nodes {@code x} and {@code Wb}) is the node to single out.
 *
 * <p>{@link #forward} is an independent plain-Java implementation of the network with any set of
 * tensors fake-quantized, for expected values.
 */
public final class TwoBranch {
  public static final int IN = 8;
  public static final int OUT = 10;

  /** The calibration nodes of each normal node. */
  public static final Map<String, List<String>> CALIBRATIONS =
      Map.of(
          "mm_a", List.of("x_HzCalibration", "Wa_HzCalibration"),
          "mm_b", List.of("x_HzCalibration", "Wb_HzCalibration"),
          "add", List.of("a_HzCalibration", "b_HzCalibration"));

  public final float[][] wa = new float[IN][OUT];
  public final float[][] wb = new float[IN][OUT];
  public final Path floatModel;
  public final Path calibratedModel;
  public final Path calibration;
  public final Path labeled;
  public final float[][] calibrationX;
  public final float[][] labeledX;
  public final long[] labels;
  /** Scale of each quantized tensor (all symmetric int8 per tensor, zero point 0). */
  public final Map<String, Float> scales = new HashMap<>();

  private TwoBranch(Path dir, int calibrationSamples, int labeledSamples) {
    Random r = new Random(11);
    for (int i = 0; i < IN; i++) {
      for (int j = 0; j < OUT; j++) {
        wa[i][j] = clamp3((float) r.nextGaussian());
        wb[i][j] = i == 7 ? (j % 2 == 0 ? 1000f : -1000f) : clamp3((float) r.nextGaussian());
      }
    }
    floatModel = dir.resolve("two_branch.onnx");
    TestModels.graph()
        .input("x", -1, IN)
        .initializer("Wa", flat(wa), IN, OUT)
        .initializer("Wb", flat(wb), IN, OUT)
        .node("MatMul", "mm_a", new String[] {"x", "Wa"}, new String[] {"a"})
        .node("MatMul", "mm_b", new String[] {"x", "Wb"}, new String[] {"b"})
        .node("Add", "add", new String[] {"a", "b"}, new String[] {"y"})
        .node("Relu", "relu", new String[] {"y"}, new String[] {"out"})
        .output("out", -1, OUT)
        .model()
        .save(floatModel);
    calibration = dir.resolve("calibration");
    calibrationX = new float[calibrationSamples][];
    for (int i = 0; i < calibrationSamples; i++) {
      calibrationX[i] = sample(r);
      Npy.write(calibration.resolve("x/" + i + ".npy"), Nd4j.createFromArray(new float[][] {calibrationX[i]}));
    }
    calibratedModel = dir.resolve("two_branch_int8.onnx");
    OnnxModel m = OnnxModel.load(floatModel);
    try (CalibratedModel cal =
        Calibrator.calibrate(
            m,
            SampleSet.open(calibration, m.inputs()),
            Calibrator.Options.defaults().method(CalibrationMethod.MAX).perChannel(false),
            Progress.NONE)) {
      cal.save(calibratedModel);
    }
    try (CalibratedModel cal = CalibratedModel.load(calibratedModel)) {
      for (String t : List.of("x", "Wa", "Wb", "a", "b")) {
        var p = cal.node(t + "_HzCalibration").params();
        if (p.zeroPoint()[0] != 0 || p.axis() != -1) {
          throw new IllegalStateException("expected symmetric per-tensor parameters: " + p);
        }
        scales.put(t, p.scale()[0]);
      }
    }
    // labeled samples whose float decision has a clear margin, labeled by the float model
    labeled = dir.resolve("labeled");
    labeledX = new float[labeledSamples][];
    labels = new long[labeledSamples];
    int n = 0;
    while (n < labeledSamples) {
      float[] x = sample(r);
      float[] out = forward(new float[][] {x}, Set.of()).get("out")[0];
      int best = argmax(out);
      float second = Float.NEGATIVE_INFINITY;
      for (int j = 0; j < OUT; j++) {
        if (j != best) {
          second = Math.max(second, out[j]);
        }
      }
      if (out[best] - second > 1.0f) {
        labeledX[n] = x;
        labels[n++] = best;
      }
    }
    Npy.write(labeled.resolve("images.npy"), Nd4j.createFromArray(labeledX));
    Npy.write(labeled.resolve("labels.npy"), Nd4j.createFromArray(labels));
  }

  /** Writes the model, its int8 calibration (max, per tensor) and the data under {@code dir}. */
  public static TwoBranch write(Path dir, int calibrationSamples, int labeledSamples) {
    return new TwoBranch(dir, calibrationSamples, labeledSamples);
  }

  private static float[] sample(Random r) {
    float[] x = new float[IN];
    for (int i = 0; i < 7; i++) {
      x[i] = (float) r.nextGaussian();
    }
    return x; // x[7] = 0
  }

  private static float clamp3(float v) {
    return Math.max(-3f, Math.min(3f, v));
  }

  static float[] flat(float[][] m) {
    float[] f = new float[m.length * m[0].length];
    for (int i = 0; i < m.length; i++) {
      System.arraycopy(m[i], 0, f, i * m[0].length, m[0].length);
    }
    return f;
  }

  static int argmax(float[] v) {
    int b = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[b]) {
        b = i;
      }
    }
    return b;
  }

  /** Symmetric int8 fake quantization: {@code clamp(rint(v / s), -128, 127) * s} in float. */
  static float fq(float v, float s) {
    float q = (float) Math.rint(v / s);
    return Math.max(-128f, Math.min(127f, q)) * s;
  }

  /**
   * The network on {@code xs} with the tensors named in {@code quantized} ({@code x}, {@code Wa},
   * {@code Wb}, {@code a}, {@code b}, or their calibration node names) fake-quantized: returns
   * {@code a}, {@code b} (as the MatMuls produce them, before their own quantization), {@code y}
   * and {@code out}, per sample.
   */
  public Map<String, float[][]> forward(float[][] xs, Collection<String> quantized) {
    Set<String> q = new java.util.HashSet<>();
    for (String s : quantized) {
      q.add(s.replace("_HzCalibration", ""));
    }
    float[][] wqa = q.contains("Wa") ? quantize(wa, scales.get("Wa")) : wa;
    float[][] wqb = q.contains("Wb") ? quantize(wb, scales.get("Wb")) : wb;
    int n = xs.length;
    float[][] a = new float[n][];
    float[][] b = new float[n][];
    float[][] y = new float[n][OUT];
    float[][] out = new float[n][OUT];
    for (int s = 0; s < n; s++) {
      float[] x = q.contains("x") ? quantize(new float[][] {xs[s]}, scales.get("x"))[0] : xs[s];
      a[s] = matmul(x, wqa);
      b[s] = matmul(x, wqb);
      for (int j = 0; j < OUT; j++) {
        float aj = q.contains("a") ? fq(a[s][j], scales.get("a")) : a[s][j];
        float bj = q.contains("b") ? fq(b[s][j], scales.get("b")) : b[s][j];
        y[s][j] = aj + bj;
        out[s][j] = Math.max(0f, y[s][j]);
      }
    }
    return Map.of("a", a, "b", b, "y", y, "out", out);
  }

  private static float[][] quantize(float[][] m, float s) {
    float[][] o = new float[m.length][];
    for (int i = 0; i < m.length; i++) {
      o[i] = new float[m[i].length];
      for (int j = 0; j < m[i].length; j++) {
        o[i][j] = fq(m[i][j], s);
      }
    }
    return o;
  }

  private static float[] matmul(float[] x, float[][] w) {
    float[] o = new float[w[0].length];
    for (int j = 0; j < o.length; j++) {
      double s = 0;
      for (int i = 0; i < x.length; i++) {
        s += (double) x[i] * w[i][j];
      }
      o[j] = (float) s;
    }
    return o;
  }

  /** The calibration nodes of {@code nodes} (normal nodes), in first-seen order. */
  public static List<String> calibrationsOf(String... nodes) {
    List<String> out = new ArrayList<>();
    for (String n : nodes) {
      for (String c : CALIBRATIONS.get(n)) {
        if (!out.contains(c)) {
          out.add(c);
        }
      }
    }
    return out;
  }

  /** Every calibration node. */
  public static List<String> all() {
    return calibrationsOf("mm_a", "mm_b", "add");
  }

  /** Plain cosine similarity in double (Horizon's guard: 1 when both are zero, 0 when one is). */
  public static double cosine(float[] p, float[] q) {
    double d = 0;
    double np = 0;
    double nq = 0;
    for (int i = 0; i < p.length; i++) {
      d += (double) p[i] * q[i];
      np += (double) p[i] * p[i];
      nq += (double) q[i] * q[i];
    }
    if (np == 0 && nq == 0) {
      return 1;
    }
    if (np == 0 || nq == 0) {
      return 0;
    }
    return d / (Math.sqrt(np) * Math.sqrt(nq));
  }

  /** Mean over samples of the cosine of tensor {@code t} between two runs. */
  public static double meanCosine(Map<String, float[][]> f, Map<String, float[][]> q, String t) {
    double s = 0;
    for (int i = 0; i < f.get(t).length; i++) {
      s += cosine(f.get(t)[i], q.get(t)[i]);
    }
    return s / f.get(t).length;
  }
}
