package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Pad: pads [begin..., end...] (attribute before opset 11, input from 11, negative ones crop),
 * constant value (attribute {@code value} before 11, input from 11), axes (input, opset 18); modes
 * constant, edge, reflect and wrap (opset 19).
 */
final class Pad implements Op {
  private enum Mode {
    CONSTANT,
    EDGE,
    REFLECT,
    WRAP
  }

  private final OnnxNode node;
  private final Mode mode;
  private final long[] padsAttr;
  private final float valueAttr;
  private final boolean inputs;

  Pad(OnnxNode node, int opset) {
    this.node = node;
    String m = node.attrString("mode", "constant");
    mode =
        switch (m) {
          case "constant" -> Mode.CONSTANT;
          case "edge" -> Mode.EDGE;
          case "reflect" -> Mode.REFLECT;
          case "wrap" -> Mode.WRAP;
          default -> throw node.error("unknown mode '" + m + "'");
        };
    inputs = opset >= 11;
    padsAttr =
        inputs ? null : node.attrInts(node.hasAttr("pads") ? "pads" : "paddings").orElse(null);
    valueAttr = node.attrFloat("value", 0f);
    if (!inputs && padsAttr == null) {
      throw node.error("missing required attribute 'pads'");
    }
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] shape = x.shape();
    int r = shape.length;
    long[] pads;
    FlatData.Fill fill;
    int[] axes;
    if (inputs) {
      if (!ShapeArgs.named(in, 1)) {
        throw node.error("needs the pads input");
      }
      pads = ShapeArgs.longs(in[1]);
      fill = ShapeArgs.given(in, 2) ? FlatData.Fill.of(in[2]) : FlatData.Fill.ZERO;
      if (ShapeArgs.named(in, 3)) {
        axes = ShapeArgs.axes(node, ShapeArgs.longs(in[3]), r);
      } else {
        axes = null;
      }
    } else {
      pads = padsAttr;
      fill = FlatData.Fill.of(valueAttr);
      axes = null;
    }
    if (axes == null) {
      axes = new int[r];
      for (int d = 0; d < r; d++) {
        axes[d] = d;
      }
    }
    int k = axes.length;
    if (pads.length != 2 * k) {
      throw node.error(
          "pads "
              + ShapeArgs.str(pads)
              + " should have "
              + 2 * k
              + " values for an input of shape "
              + ShapeArgs.str(shape));
    }
    long[] begin = new long[r];
    long[] end = new long[r];
    for (int i = 0; i < k; i++) {
      begin[axes[i]] = pads[i];
      end[axes[i]] = pads[k + i];
    }
    long[] out = new long[r];
    boolean none = true;
    for (int d = 0; d < r; d++) {
      out[d] = shape[d] + begin[d] + end[d];
      if (out[d] < 0) {
        throw node.error(
            "pads "
                + ShapeArgs.str(pads)
                + " crop more than the input's shape "
                + ShapeArgs.str(shape));
      }
      none &= begin[d] == 0 && end[d] == 0;
    }
    if (none) {
      return new INDArray[] {x};
    }
    if (ShapeArgs.product(out, 0, r) == 0) {
      return new INDArray[] {FlatData.zeros(x.dataType(), out).toArray()};
    }
    long[] strides = FlatData.strides(shape);
    int[][] off = new int[r][];
    for (int d = 0; d < r; d++) {
      long dim = shape[d];
      off[d] = new int[(int) out[d]];
      for (int j = 0; j < out[d]; j++) {
        long i = j - begin[d];
        if (i < 0 || i >= dim) {
          if (dim == 0 && mode != Mode.CONSTANT) {
            throw node.error(
                "cannot pad an empty axis " + d + " in mode " + mode.name().toLowerCase());
          }
          i =
              switch (mode) {
                case CONSTANT -> -1;
                case EDGE -> i < 0 ? 0 : dim - 1;
                case WRAP -> Math.floorMod(i, dim);
                case REFLECT -> reflect(i, dim);
              };
        }
        off[d][j] = i < 0 ? -1 : (int) (i * strides[d]);
      }
    }
    return new INDArray[] {FlatData.gather(FlatData.of(x), out, off, fill).toArray()};
  }

  private static long reflect(long i, long dim) {
    if (dim == 1) {
      return 0;
    }
    long period = 2 * (dim - 1);
    long m = Math.floorMod(i, period);
    return m < dim ? m : period - m;
  }
}
