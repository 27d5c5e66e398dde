package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Concat: joins the inputs along axis (negative from opset 11); any element type. */
final class Concat implements Op {
  private final OnnxNode node;
  private final long axis;

  Concat(OnnxNode node, int opset) {
    this.node = node;
    axis = node.attrInt("axis");
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    if (in.length == 0 || in[0] == null) {
      throw node.error("has no inputs");
    }
    long[] first = in[0].shape();
    int r = first.length;
    int a = ShapeArgs.axis(node, axis, r);
    long[] outShape = first.clone();
    outShape[a] = 0;
    for (INDArray x : in) {
      long[] s = x.shape();
      boolean ok = s.length == r && x.dataType() == in[0].dataType();
      for (int d = 0; ok && d < r; d++) {
        ok = d == a || s[d] == first[d];
      }
      if (!ok) {
        StringBuilder b = new StringBuilder();
        for (INDArray y : in) {
          b.append(b.length() == 0 ? "" : ", ")
              .append(y.dataType())
              .append(Arrays.toString(y.shape()));
        }
        throw node.error("cannot concatenate along axis " + axis + ": " + b);
      }
      outShape[a] += s[a];
    }
    if (in.length == 1) {
      return new INDArray[] {in[0]};
    }
    if (r == 4 && a == 1 && allChannelsLast(in)) {
      // along C of channels-last tensors: along the last axis of their NHWC arrays
      INDArray[] nhwc = new INDArray[in.length];
      for (int i = 0; i < in.length; i++) {
        nhwc[i] = ChannelsLast.storage(in[i]);
      }
      long[] nhwcShape = {outShape[0], outShape[2], outShape[3], outShape[1]};
      return new INDArray[] {ChannelsLast.view(join(nhwc, 3, nhwcShape))};
    }
    return new INDArray[] {join(in, a, outShape)};
  }

  private static boolean allChannelsLast(INDArray[] in) {
    for (INDArray x : in) {
      if (!ChannelsLast.is(x)) {
        return false;
      }
    }
    return true;
  }

  /** {@code in}, checked, joined along {@code a} into an array of {@code outShape}. */
  private static INDArray join(INDArray[] in, int a, long[] outShape) {
    long[] first = in[0].shape();
    int r = first.length;
    FlatData out = FlatData.zeros(in[0].dataType(), outShape);
    if (out.length == 0) {
      return out.toArray();
    }
    long outer = ShapeArgs.product(first, 0, a);
    long inner = ShapeArgs.product(first, a + 1, r);
    int rowOut = (int) (outShape[a] * inner);
    int at = 0;
    for (INDArray x : in) {
      int row = (int) (x.shape()[a] * inner);
      if (row == 0) {
        continue;
      }
      FlatData f = FlatData.of(x);
      for (int o = 0; o < outer; o++) {
        System.arraycopy(f.data, o * row, out.data, o * rowOut + at, row);
      }
      at += row;
    }
    return out.toArray();
  }
}
