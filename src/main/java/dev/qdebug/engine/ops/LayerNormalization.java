package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * LayerNormalization (opset 17): normalizes over the dimensions from {@code axis} on, {@code Y = (X
 * - mean) / sqrt(var + epsilon) * Scale + B} (population variance), and gives the optional Mean and
 * InvStdDev outputs with the normalized dimensions kept as 1. Float input with one Scale (and B)
 * value per normalized position and no statistics wanted runs on oneDNN ({@link Dnnl#layerNorm});
 * otherwise computed in float (double for double input) as native row reductions over X viewed
 * as {@code [outer, inner]}.
 */
final class LayerNormalization implements Op {
  private final OnnxNode node;
  private final long axis;
  private final double epsilon;
  private final boolean wantsStatistics;

  LayerNormalization(OnnxNode node, int opset) {
    this.node = node;
    this.axis = node.attrInt("axis", -1);
    this.epsilon = node.attrFloat("epsilon", 1e-5f);
    this.wantsStatistics = node.outputs().stream().skip(1).anyMatch(o -> !o.isEmpty());
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    INDArray scale = in[1];
    INDArray bias = in.length > 2 ? in[2] : null;
    int rank = x.rank();
    int ax = (int) (axis < 0 ? axis + rank : axis);
    if (ax < 0 || ax >= rank) {
      throw node.error(
          "attribute 'axis' is "
              + axis
              + ", out of range for input of shape "
              + Arrays.toString(x.shape()));
    }
    if (!x.dataType().isFPType()) {
      throw node.error("input X has element type " + x.dataType() + ", expected a float type");
    }
    long[] shape = x.shape();
    long[] norm = Arrays.copyOfRange(shape, ax, rank);
    long outer = Window.product(Arrays.copyOfRange(shape, 0, ax));
    long inner = Window.product(norm);
    if (!wantsStatistics && x.dataType() == DataType.FLOAT) {
      INDArray sc = row(scale, norm);
      INDArray sh = bias == null ? null : row(bias, norm);
      if (sc != null && (bias == null || sh != null)) {
        INDArray xr = x.reshape('c', outer, inner);
        INDArray y = Dnnl.layerNorm(FlatData.isPlain(xr) ? xr : xr.dup('c'), sc, sh, (float) epsilon);
        if (y != null) {
          return new INDArray[] {y.reshape('c', shape)};
        }
      }
    }
    DataType work = x.dataType() == DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
    INDArray x2 = x.castTo(work).reshape('c', outer, inner);
    INDArray mean = x2.mean(true, 1);
    // elementwise steps as broadcasting custom ops: one rounding each, as the row/column vector
    // ops gave, at a fraction of their cost
    INDArray centered = Broadcast.binary("subtract", x2, mean, work);
    INDArray var = centered.mul(centered).mean(true, 1);
    INDArray inv = Transforms.pow(var.addi(epsilon), -0.5, false);
    INDArray y = Broadcast.binaryInPlace("multiply", centered, inv);
    y = applyAffine(y, scale, false, norm, shape, work);
    if (bias != null) {
      y = applyAffine(y, bias, true, norm, shape, work);
    }
    y = y.reshape('c', shape);
    if (y.dataType() != x.dataType()) {
      y = y.castTo(x.dataType());
    }
    if (!wantsStatistics) {
      return new INDArray[] {y};
    }
    long[] statShape = shape.clone();
    Arrays.fill(statShape, ax, rank, 1);
    return new INDArray[] {y, mean.reshape('c', statShape), inv.reshape('c', statShape)};
  }

  /** Multiplies by (or adds) {@code p}, broadcast numpy-style against X. */
  private INDArray applyAffine(
      INDArray y, INDArray p, boolean add, long[] norm, long[] shape, DataType work) {
    INDArray q = p.dataType() == work ? p : p.castTo(work);
    if (q.rank() <= norm.length && broadcastable(q.shape(), norm)) {
      long[] full = withOnes(q.shape(), norm.length);
      INDArray row =
          q.rank() == 1 && q.length() == y.size(1)
              ? q
              : Arrays.equals(full, norm)
                  ? q.reshape(q.length())
                  : q.reshape(full).broadcast(norm).reshape(Window.product(norm));
      return Broadcast.binaryInPlace(add ? "add" : "multiply", y, row);
    }
    if (!broadcastable(q.shape(), shape)) {
      throw node.error(
          (add ? "B " : "Scale ")
              + Arrays.toString(p.shape())
              + " does not broadcast to X "
              + Arrays.toString(shape));
    }
    INDArray full = q.reshape(withOnes(q.shape(), shape.length)).broadcast(shape);
    INDArray yx = y.reshape('c', shape);
    return (add ? yx.addi(full) : yx.muli(full)).reshape('c', y.shape());
  }

  /**
   * {@code p} as a plain float row of the normalized dimensions' values when it holds one value
   * per normalized position (its shape {@code norm}, with or without leading 1s), else null.
   */
  private static INDArray row(INDArray p, long[] norm) {
    if (p.dataType() != DataType.FLOAT || p.length() != Window.product(norm)
        || p.rank() > norm.length + 1) {
      return null;
    }
    long[] full = withOnes(p.shape(), Math.max(norm.length, p.rank()));
    if (!Arrays.equals(Arrays.copyOfRange(full, full.length - norm.length, full.length), norm)) {
      return null;
    }
    INDArray r = p.reshape('c', new long[] {p.length()});
    return FlatData.isPlain(r) ? r : r.dup('c');
  }

  private static boolean broadcastable(long[] from, long[] to) {
    if (from.length > to.length) {
      return false;
    }
    for (int i = 1; i <= from.length; i++) {
      long f = from[from.length - i];
      if (f != 1 && f != to[to.length - i]) {
        return false;
      }
    }
    return true;
  }

  private static long[] withOnes(long[] s, int rank) {
    long[] r = new long[rank];
    Arrays.fill(r, 1);
    System.arraycopy(s, 0, r, rank - s.length, s.length);
    return r;
  }
}
