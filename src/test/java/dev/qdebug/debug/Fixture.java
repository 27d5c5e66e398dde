package dev.qdebug.debug;

import dev.qdebug.TestModels;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.QType;
import java.nio.file.Path;
import java.util.Arrays;
import org.nd4j.linalg.factory.Nd4j;

/** Hand-built graphs, data and a plain fake-quantization formula for the analysis tests. */
final class Fixture {
  private Fixture() {}

  /**
   * {@code x [N,4] -> MatMul "mm" (W [4,3]) -> y -> Relu "blk/relu" -> blk/z}.
   *
   * @param w row-major 4 x 3
   */
  static OnnxModel matmulRelu(float[] w) {
    return TestModels.graph()
        .input("x", -1, 4)
        .initializer("W", w, 4, 3)
        .node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"y"})
        .node("Relu", "blk/relu", new String[] {"y"}, new String[] {"blk/z"})
        .output("blk/z", -1, 3)
        .model();
  }

  /** Writes {@code samples} (one row each, shape [1, len]) as {@code dir/<input>/<i>.npy}. */
  static SampleSet data(Path dir, OnnxModel model, float[][] samples) {
    String input = model.inputs().get(0).name();
    for (int i = 0; i < samples.length; i++) {
      Npy.write(
          dir.resolve(input).resolve(i + ".npy"), Nd4j.createFromArray(new float[][] {samples[i]}));
    }
    return SampleSet.open(dir, model.inputs());
  }

  /** {@code (clamp(rint(v / s) + zp) - zp) * s} in float32, written out by hand. */
  static float fq(float v, float s, long zp, QType t) {
    float q = (float) Math.rint(v / s) + zp;
    if (q < t.qmin()) {
      q = t.qmin();
    }
    if (q > t.qmax()) {
      q = t.qmax();
    }
    return (q - zp) * s;
  }

  /** {@code x [4] . w [4 x 3]} in float, summed in index order. */
  static float[] matvec(float[] x, float[] w) {
    float[] y = new float[3];
    for (int j = 0; j < 3; j++) {
      float s = 0;
      for (int k = 0; k < 4; k++) {
        s += x[k] * w[k * 3 + j];
      }
      y[j] = s;
    }
    return y;
  }

  static float[] relu(float[] v) {
    float[] r = v.clone();
    for (int i = 0; i < r.length; i++) {
      r[i] = Math.max(0, r[i]);
    }
    return r;
  }

  static double cosine(float[] a, float[] b) {
    double d = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      d += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return d / Math.sqrt(na) / Math.sqrt(nb);
  }

  static double mse(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
    }
    return s / a.length;
  }

  static float[] concat(float[]... parts) {
    float[] out = new float[0];
    for (float[] p : parts) {
      int at = out.length;
      out = Arrays.copyOf(out, at + p.length);
      System.arraycopy(p, 0, out, at, p.length);
    }
    return out;
  }
}
