package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Transpose: permutes the axes by perm (default: reversed); the result is contiguous. */
final class Transpose implements Op {
  private final OnnxNode node;
  private final long[] perm;

  Transpose(OnnxNode node, int opset) {
    this.node = node;
    perm = node.attrInts("perm").orElse(null);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    int r = x.rank();
    int[] p = new int[r];
    if (perm == null) {
      for (int i = 0; i < r; i++) {
        p[i] = r - 1 - i;
      }
    } else {
      if (perm.length != r) {
        throw node.error("perm " + ShapeArgs.str(perm) + " does not fit an input of rank " + r);
      }
      p = ShapeArgs.axes(node, perm, r);
    }
    // only size-1 axes move: the element order is unchanged, so this is a reshape
    long[] s = x.shape();
    long[] outShape = new long[r];
    boolean ordered = true;
    int prev = -1;
    for (int i = 0; i < r; i++) {
      outShape[i] = s[p[i]];
      if (s[p[i]] != 1) {
        ordered &= p[i] > prev;
        prev = p[i];
      }
    }
    if (ordered) {
      return new INDArray[] {ShapeArgs.reshape(x, outShape)};
    }
    if (x.length() == 0) {
      return new INDArray[] {FlatData.zeros(x.dataType(), outShape).toArray()};
    }
    // oneDNN's re-layout for floats; ND4J's strided copy is native and multi-threaded, several
    // times faster than a Java loop
    INDArray view = x.permute(p);
    INDArray y = Dnnl.dense(view);
    return new INDArray[] {y != null ? y : view.dup('c')};
  }
}
