package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/** SpaceToDepth: NCHW, moves blocksize x blocksize spatial blocks into channels. */
final class SpaceToDepth implements Op {
  private final OnnxNode node;
  private final long b;

  SpaceToDepth(OnnxNode node, int opset) {
    this.node = node;
    b = node.attrInt("blocksize");
    if (b < 1) {
      throw node.error("blocksize must be positive, is " + b);
    }
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] s = x.shape();
    if (s.length != 4 || s[2] % b != 0 || s[3] % b != 0) {
      throw node.error(
          "needs an NCHW input whose height and width divide by "
              + b
              + ", got "
              + ShapeArgs.str(s));
    }
    long n = s[0];
    long c = s[1];
    long h = s[2] / b;
    long w = s[3] / b;
    long[] six = {n, c, h, b, w, b};
    int[] perm = {0, 3, 5, 1, 2, 4};
    long[] out = {n, c * b * b, h, w};
    if (x.length() == 0) {
      return new INDArray[] {FlatData.zeros(x.dataType(), out).toArray()};
    }
    INDArray t = ShapeArgs.reshape(x, six).permute(perm).dup('c');
    return new INDArray[] {t.reshape('c', out)};
  }
}
