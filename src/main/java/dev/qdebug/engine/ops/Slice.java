package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Slice: starts/ends/axes attributes before opset 10; from 10 inputs starts, ends, axes, steps
 * (negative steps too). Out-of-range starts and ends are clamped as numpy does.
 */
final class Slice implements Op {
  private final OnnxNode node;
  private final boolean attributes;
  private final long[] starts;
  private final long[] ends;
  private final long[] axes;

  Slice(OnnxNode node, int opset) {
    this.node = node;
    attributes = opset < 10 && node.hasAttr("starts");
    if (attributes) {
      starts = node.attrInts("starts").orElseThrow();
      ends = node.attrInts("ends").orElseThrow(() -> node.error("missing attribute 'ends'"));
      axes = node.attrInts("axes").orElse(null);
    } else {
      starts = ends = axes = null;
    }
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] st;
    long[] en;
    long[] ax;
    long[] steps = null;
    if (attributes) {
      st = starts;
      en = ends;
      ax = axes;
    } else {
      if (!ShapeArgs.named(in, 1) || !ShapeArgs.named(in, 2)) {
        throw node.error("needs the starts and ends inputs");
      }
      st = ShapeArgs.longs(in[1]);
      en = ShapeArgs.longs(in[2]);
      ax = ShapeArgs.named(in, 3) ? ShapeArgs.longs(in[3]) : null;
      steps = ShapeArgs.named(in, 4) ? ShapeArgs.longs(in[4]) : null;
    }
    long[] shape = x.shape();
    int r = shape.length;
    if (st.length != en.length
        || (ax != null && ax.length != st.length)
        || (steps != null && steps.length != st.length)) {
      throw node.error(
          "starts "
              + ShapeArgs.str(st)
              + ", ends "
              + ShapeArgs.str(en)
              + (ax == null ? "" : ", axes " + ShapeArgs.str(ax))
              + (steps == null ? "" : ", steps " + ShapeArgs.str(steps))
              + " differ in length");
    }
    int[] axs;
    if (ax == null) {
      if (st.length > r) {
        throw node.error("more starts than the input's rank " + r);
      }
      axs = new int[st.length];
      for (int i = 0; i < axs.length; i++) {
        axs[i] = i;
      }
    } else {
      axs = ShapeArgs.axes(node, ax, r);
    }
    long[] begin = new long[r];
    long[] step = new long[r];
    long[] count = shape.clone();
    java.util.Arrays.fill(step, 1);
    boolean whole = true;
    for (int i = 0; i < axs.length; i++) {
      int d = axs[i];
      long dim = shape[d];
      long k = steps == null ? 1 : steps[i];
      if (k == 0) {
        throw node.error("step 0 on axis " + d);
      }
      long s = st[i];
      long e = en[i];
      if (s < 0) {
        s += dim;
      }
      if (e < 0) {
        e += dim;
      }
      long c;
      if (k > 0) {
        s = clamp(s, 0, dim);
        e = clamp(e, 0, dim);
        c = e > s ? (e - s + k - 1) / k : 0;
      } else {
        s = clamp(s, 0, dim - 1);
        e = clamp(e, -1, dim - 1);
        c = s > e ? (s - e + (-k) - 1) / (-k) : 0;
      }
      begin[d] = s;
      step[d] = k;
      count[d] = c;
      whole &= k == 1 && s == 0 && c == dim;
    }
    if (whole) {
      return new INDArray[] {x};
    }
    long[] strides = FlatData.strides(shape);
    int[][] off = new int[r][];
    for (int d = 0; d < r; d++) {
      off[d] = FlatData.offsets(begin[d], step[d], count[d], strides[d]);
    }
    long n = ShapeArgs.product(count, 0, r);
    if (n == 0) {
      return new INDArray[] {FlatData.zeros(x.dataType(), count).toArray()};
    }
    return new INDArray[] {FlatData.gather(x, count, off, FlatData.Fill.ZERO).toArray()};
  }

  private static long clamp(long v, long lo, long hi) {
    return Math.max(lo, Math.min(hi, v));
  }
}
