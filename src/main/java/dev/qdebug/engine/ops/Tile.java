package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Tile: repeats the input repeats[d] times along each axis d. */
final class Tile implements Op {
  private final OnnxNode node;

  Tile(OnnxNode node, int opset) {
    this.node = node;
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] reps = ShapeArgs.longs(in[1]);
    long[] shape = x.shape();
    int r = shape.length;
    if (reps.length != r) {
      throw node.error(
          "repeats "
              + ShapeArgs.str(reps)
              + " do not fit an input of shape "
              + ShapeArgs.str(shape));
    }
    long[] out = new long[r];
    boolean same = true;
    for (int d = 0; d < r; d++) {
      if (reps[d] < 0) {
        throw node.error("negative repeat count in " + ShapeArgs.str(reps));
      }
      out[d] = shape[d] * reps[d];
      same &= reps[d] == 1;
    }
    if (same) {
      return new INDArray[] {x};
    }
    if (ShapeArgs.product(out, 0, r) == 0) {
      return new INDArray[] {FlatData.zeros(x.dataType(), out).toArray()};
    }
    long[] strides = FlatData.strides(shape);
    int[][] off = new int[r][];
    for (int d = 0; d < r; d++) {
      off[d] = new int[(int) out[d]];
      for (int j = 0; j < out[d]; j++) {
        off[d][j] = (int) ((j % shape[d]) * strides[d]);
      }
    }
    return new INDArray[] {FlatData.gather(FlatData.of(x), out, off, FlatData.Fill.ZERO).toArray()};
  }
}
