package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The reductions ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd and ReduceL2, as one
 * class with a table of ND4J reductions (one native op each). Axes come from the {@code axes}
 * attribute (ReduceSum before opset 13, the others before 18) or the optional second input
 * (later); whichever the node has is used. No axes means all axes, unless {@code
 * noop_with_empty_axes} is set, which makes the op an identity. {@code keepdims} defaults to 1.
 * The output keeps the input's element type (a mean of integers truncates, as numpy's astype).
 */
final class Reduce implements Op {
  /** One ND4J reduction over {@code dims} of {@code x}. */
  @FunctionalInterface
  private interface Kernel {
    INDArray apply(INDArray x, boolean keepDims, int[] dims);
  }

  private final OnnxNode node;
  private final Kernel kernel;
  private final double emptyValue;
  private final boolean keepDims;
  private final boolean noopWithEmptyAxes;
  private final long[] attrAxes;

  private Reduce(OnnxNode node, Kernel kernel, double emptyValue) {
    this.node = node;
    this.kernel = kernel;
    this.emptyValue = emptyValue;
    this.keepDims = node.attrInt("keepdims", 1) != 0;
    this.noopWithEmptyAxes = node.attrInt("noop_with_empty_axes", 0) != 0;
    this.attrAxes = node.attrInts("axes").orElse(null);
  }

  static Op mean(OnnxNode node, int opset) {
    return new Reduce(node, INDArray::mean, Double.NaN);
  }

  static Op sum(OnnxNode node, int opset) {
    return new Reduce(node, INDArray::sum, 0);
  }

  static Op max(OnnxNode node, int opset) {
    return new Reduce(node, INDArray::max, Double.NEGATIVE_INFINITY);
  }

  static Op min(OnnxNode node, int opset) {
    return new Reduce(node, INDArray::min, Double.POSITIVE_INFINITY);
  }

  static Op prod(OnnxNode node, int opset) {
    return new Reduce(node, INDArray::prod, 1);
  }

  static Op l2(OnnxNode node, int opset) {
    return new Reduce(node, INDArray::norm2, 0);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] axes = attrAxes;
    if (axes == null && in.length > 1 && in[1] != null) {
      axes = in[1].length() == 0 ? new long[0] : in[1].dup('c').data().asLong();
    }
    int rank = x.rank();
    if (axes == null || axes.length == 0) {
      if (noopWithEmptyAxes) {
        return new INDArray[] {x};
      }
      axes = new long[rank];
      for (int i = 0; i < rank; i++) {
        axes[i] = i;
      }
    }
    int[] dims = dims(axes, rank);
    if (dims.length == 0) {
      return new INDArray[] {x};
    }
    if (x.isEmpty()) {
      return new INDArray[] {emptyReduction(x, dims)};
    }
    INDArray y = kernel.apply(x, keepDims, dims);
    long[] want = outShape(x.shape(), dims);
    if (!Arrays.equals(y.shape(), want)) {
      y = y.reshape(want);
    }
    return new INDArray[] {y.dataType() == x.dataType() ? y : y.castTo(x.dataType())};
  }

  private int[] dims(long[] axes, int rank) {
    boolean[] seen = new boolean[rank];
    int n = 0;
    for (long a : axes) {
      long d = a < 0 ? a + rank : a;
      if (d < 0 || d >= rank) {
        throw node.error("axis " + a + " is out of range for rank " + rank);
      }
      if (!seen[(int) d]) {
        seen[(int) d] = true;
        n++;
      }
    }
    int[] dims = new int[n];
    for (int d = 0, k = 0; d < rank; d++) {
      if (seen[d]) {
        dims[k++] = d;
      }
    }
    return dims;
  }

  private long[] outShape(long[] shape, int[] dims) {
    boolean[] reduced = new boolean[shape.length];
    for (int d : dims) {
      reduced[d] = true;
    }
    long[] out = new long[keepDims ? shape.length : shape.length - dims.length];
    for (int d = 0, k = 0; d < shape.length; d++) {
      if (!reduced[d]) {
        out[k++] = shape[d];
      } else if (keepDims) {
        out[k++] = 1;
      }
    }
    return out;
  }

  /** A reduction of an empty input: the reduction's identity (NaN for a mean of nothing). */
  private INDArray emptyReduction(INDArray x, int[] dims) {
    INDArray out = Nd4j.createUninitialized(x.dataType(), outShape(x.shape(), dims));
    if (out.isEmpty()) {
      return out;
    }
    DataType t = x.dataType();
    double v = emptyValue;
    if (!t.isFPType() && Double.isNaN(v)) {
      return out.assign(0);
    }
    if (!t.isFPType() && Double.isInfinite(v)) {
      // integer max/min of nothing: the type's lowest/highest value, as ONNX's reference does
      return out.assign(v < 0 ? minOf(t) : maxOf(t));
    }
    return out.assign(v);
  }

  private static double minOf(DataType t) {
    return switch (t) {
      case BYTE -> Byte.MIN_VALUE;
      case SHORT -> Short.MIN_VALUE;
      case INT -> Integer.MIN_VALUE;
      case LONG -> Long.MIN_VALUE;
      default -> 0;
    };
  }

  private static double maxOf(DataType t) {
    return switch (t) {
      case BYTE -> Byte.MAX_VALUE;
      case UBYTE -> 255;
      case SHORT -> Short.MAX_VALUE;
      case UINT16 -> 65535;
      case INT -> Integer.MAX_VALUE;
      case UINT32 -> 4294967295.0;
      case LONG -> Long.MAX_VALUE;
      default -> 0;
    };
  }
}
