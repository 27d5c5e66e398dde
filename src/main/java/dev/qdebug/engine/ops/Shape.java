package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Shape: the input's dimensions as INT64, optionally only those in [start, end) (opset 15). */
final class Shape implements Op {
  private final long start;
  private final Long end;

  Shape(OnnxNode node, int opset) {
    start = node.attrInt("start", 0);
    end = node.hasAttr("end") ? node.attrInt("end") : null;
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    long[] shape = in[0].shape();
    int r = shape.length;
    long s = clamp(start < 0 ? start + r : start, r);
    long e = end == null ? r : clamp(end < 0 ? end + r : end, r);
    long[] v = s >= e ? new long[0] : Arrays.copyOfRange(shape, (int) s, (int) e);
    return new INDArray[] {ShapeArgs.longVector(v)};
  }

  private static long clamp(long v, int r) {
    return Math.max(0, Math.min(r, v));
  }
}
