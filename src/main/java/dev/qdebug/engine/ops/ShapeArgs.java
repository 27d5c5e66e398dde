package dev.qdebug.engine.ops;

import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Helpers shared by the shape ops: reading int and float operands, axes, reshaping. */
final class ShapeArgs {
  private ShapeArgs() {}

  /** Whether an optional input is given (not omitted, and not an empty tensor). */
  static boolean given(INDArray[] in, int i) {
    return i < in.length && in[i] != null && in[i].length() > 0;
  }

  /** Whether an optional input is named at all (it may be an empty tensor). */
  static boolean named(INDArray[] in, int i) {
    return i < in.length && in[i] != null;
  }

  /** The elements of an integer (or float) tensor, c order. */
  static long[] longs(INDArray a) {
    if (a.length() == 0) {
      return new long[0];
    }
    return FlatData.of(a).longs().clone();
  }

  /** The elements of a tensor as doubles, c order. */
  static double[] doubles(INDArray a) {
    if (a.length() == 0) {
      return new double[0];
    }
    return FlatData.of(a).doubles().clone();
  }

  /** {@code axis} made non-negative for rank {@code rank}; an error naming the node otherwise. */
  static int axis(OnnxNode node, long axis, int rank) {
    long a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
      throw node.error("axis " + axis + " is out of range for rank " + rank);
    }
    return (int) a;
  }

  /** Each of {@code axes} made non-negative for {@code rank}; duplicates are an error. */
  static int[] axes(OnnxNode node, long[] axes, int rank) {
    int[] out = new int[axes.length];
    boolean[] seen = new boolean[rank];
    for (int i = 0; i < axes.length; i++) {
      out[i] = axis(node, axes[i], rank);
      if (seen[out[i]]) {
        throw node.error("axis " + axes[i] + " is repeated in " + Arrays.toString(axes));
      }
      seen[out[i]] = true;
    }
    return out;
  }

  /** A 1-D INT64 tensor of {@code v}. */
  static INDArray longVector(long[] v) {
    if (v.length == 0) {
      return Nd4j.create(DataType.LONG, 0);
    }
    return Nd4j.createFromArray(v.clone());
  }

  /** {@code x} with {@code shape} (same length): a view when {@code x} is contiguous. */
  static INDArray reshape(INDArray x, long[] shape) {
    if (Arrays.equals(x.shape(), shape)) {
      return x;
    }
    if (x.length() == 0) {
      return Nd4j.create(x.dataType(), shape);
    }
    if (shape.length == 0) {
      return x.reshape(new long[0]);
    }
    return x.reshape('c', shape);
  }

  static long product(long[] shape, int from, int to) {
    long p = 1;
    for (int i = from; i < to; i++) {
      p *= shape[i];
    }
    return p;
  }

  static String str(long[] v) {
    return Arrays.toString(v);
  }
}
