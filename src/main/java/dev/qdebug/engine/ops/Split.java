package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Split: along axis into parts sized by split (attribute before opset 13, input from 13), or into
 * num_outputs (opset 18; otherwise the output count) parts of ceil(dim / n), the last smaller.
 */
final class Split implements Op {
  private final OnnxNode node;
  private final long axis;
  private final long[] splitAttr;
  private final int parts;
  private final boolean splitInput;

  Split(OnnxNode node, int opset) {
    this.node = node;
    axis = node.attrInt("axis", 0);
    splitAttr = opset < 13 ? node.attrInts("split").filter(v -> v.length > 0).orElse(null) : null;
    splitInput = opset >= 13;
    int n = (int) node.attrInt("num_outputs", node.outputs().size());
    if (n < 1) {
      throw node.error("num_outputs must be positive, is " + n);
    }
    parts = n;
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] s = x.shape();
    int r = s.length;
    int a = ShapeArgs.axis(node, axis, r);
    long dim = s[a];
    long[] sizes;
    if (splitAttr != null) {
      sizes = splitAttr;
    } else if (splitInput && ShapeArgs.named(in, 1)) {
      sizes = ShapeArgs.longs(in[1]);
    } else {
      sizes = new long[parts];
      long chunk = (dim + parts - 1) / parts;
      long left = dim;
      for (int i = 0; i < parts; i++) {
        sizes[i] = Math.min(chunk, left);
        left -= sizes[i];
      }
    }
    long total = 0;
    for (long z : sizes) {
      if (z < 0) {
        throw node.error("negative split size in " + ShapeArgs.str(sizes));
      }
      total += z;
    }
    if (total != dim) {
      throw node.error(
          "split sizes "
              + ShapeArgs.str(sizes)
              + " do not add up to dimension "
              + a
              + " of "
              + ShapeArgs.str(s));
    }
    INDArray[] out = new INDArray[sizes.length];
    if (sizes.length == 1) {
      out[0] = x;
      return out;
    }
    FlatData f = x.length() == 0 ? null : FlatData.of(x);
    long outer = ShapeArgs.product(s, 0, a);
    long inner = ShapeArgs.product(s, a + 1, r);
    int rowIn = (int) (dim * inner);
    int at = 0;
    for (int k = 0; k < sizes.length; k++) {
      long[] os = s.clone();
      os[a] = sizes[k];
      FlatData o = FlatData.zeros(x.dataType(), os);
      int row = (int) (sizes[k] * inner);
      if (o.length > 0) {
        for (int i = 0; i < outer; i++) {
          System.arraycopy(f.data, i * rowIn + at, o.data, i * row, row);
        }
      }
      at += row;
      out[k] = o.toArray();
    }
    return out;
  }
}
