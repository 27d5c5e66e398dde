package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Clip: min(max(x, lo), hi), so lo &gt; hi gives hi everywhere. Before opset 11 the bounds are
 * the float attributes {@code min}/{@code max} (defaults: the float range); from 11 on they are
 * optional scalar inputs of x's type (absent: unbounded). A floating-point clip with both bounds
 * in order is one native op; integer types use the broadcasting maximum/minimum ops, exact for
 * every width.
 */
final class Clip implements Op {
  private final OnnxNode node;
  private final boolean attributes;
  private final float attrMin;
  private final float attrMax;

  Clip(OnnxNode node, int opset) {
    this.node = node;
    this.attributes = node.hasAttr("min") || node.hasAttr("max") || opset < 11;
    this.attrMin = node.attrFloat("min", -Float.MAX_VALUE);
    this.attrMax = node.attrFloat("max", Float.MAX_VALUE);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    if (attributes) {
      if (!x.dataType().isFPType()) {
        throw node.error("min/max attributes need a floating-point input, got " + x.dataType());
      }
      return new INDArray[] {clipFloat(x, attrMin, attrMax)};
    }
    INDArray lo = bound(in, 1, x);
    INDArray hi = bound(in, 2, x);
    if (lo == null && hi == null) {
      return new INDArray[] {x};
    }
    if (x.dataType().isFPType()) {
      double l = lo == null ? Double.NEGATIVE_INFINITY : lo.getDouble(0);
      double h = hi == null ? Double.POSITIVE_INFINITY : hi.getDouble(0);
      return new INDArray[] {clipFloat(x, l, h)};
    }
    INDArray y = x;
    if (lo != null) {
      y = Broadcast.binary("maximum", y, lo, x.dataType());
    }
    if (hi != null) {
      y = Broadcast.binary("minimum", y, hi, x.dataType());
    }
    return new INDArray[] {y};
  }

  private INDArray bound(INDArray[] in, int i, INDArray x) {
    if (i >= in.length || in[i] == null || in[i].length() == 0) {
      return null;
    }
    INDArray b = in[i];
    if (b.length() != 1) {
      throw node.error("bound input " + i + " must be a scalar, got shape " + Arrays.toString(b.shape()));
    }
    if (b.dataType() != x.dataType()) {
      throw node.error("bound input " + i + " is " + b.dataType() + ", input is " + x.dataType());
    }
    return b;
  }

  private static INDArray clipFloat(INDArray x, double lo, double hi) {
    if (lo <= hi) {
      return Unary.clamp(x, x.ulike(), lo, hi);
    }
    return x.ulike().assign(hi); // max(x, lo) then min(., hi): everything becomes hi
  }
}
