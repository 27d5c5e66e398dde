package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/** DepthToSpace: NCHW, moves blocksize x blocksize channel blocks into space; modes DCR and CRD. */
final class DepthToSpace implements Op {
  private final OnnxNode node;
  private final long b;
  private final boolean crd;

  DepthToSpace(OnnxNode node, int opset) {
    this.node = node;
    b = node.attrInt("blocksize");
    if (b < 1) {
      throw node.error("blocksize must be positive, is " + b);
    }
    String mode = node.attrString("mode", "DCR");
    if (!mode.equals("DCR") && !mode.equals("CRD")) {
      throw node.error("unknown mode '" + mode + "'");
    }
    crd = mode.equals("CRD");
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] s = x.shape();
    if (s.length != 4 || s[1] % (b * b) != 0) {
      throw node.error(
          "needs an NCHW input whose channels divide by " + b * b + ", got " + ShapeArgs.str(s));
    }
    long n = s[0];
    long c = s[1] / (b * b);
    long h = s[2];
    long w = s[3];
    long[] six;
    int[] perm;
    if (crd) {
      six = new long[] {n, c, b, b, h, w};
      perm = new int[] {0, 1, 4, 2, 5, 3};
    } else {
      six = new long[] {n, b, b, c, h, w};
      perm = new int[] {0, 3, 4, 1, 5, 2};
    }
    long[] out = {n, c, h * b, w * b};
    if (x.length() == 0) {
      return new INDArray[] {FlatData.zeros(x.dataType(), out).toArray()};
    }
    INDArray t = ShapeArgs.reshape(x, six).permute(perm).dup('c');
    return new INDArray[] {t.reshape('c', out)};
  }
}
