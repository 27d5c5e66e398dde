package dev.qdebug.engine.ops;

import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Numpy-style broadcasting for the elementwise ops: result shapes, and one native broadcasting op
 * per call (ND4J's custom ops "add", "subtract", "multiply", "divide", "maximum", "minimum",
 * "equals", "less", ... broadcast numpy-style themselves; the output is allocated here from the
 * shape computed in Java, so no separate native shape query is made).
 */
final class Broadcast {
  private Broadcast() {}

  /**
   * The numpy broadcast of {@code shapes}.
   *
   * @throws IllegalArgumentException when two dimensions differ and neither is 1
   */
  static long[] shape(long[]... shapes) {
    int rank = 0;
    for (long[] s : shapes) {
      rank = Math.max(rank, s.length);
    }
    long[] out = new long[rank];
    Arrays.fill(out, 1);
    for (long[] s : shapes) {
      for (int i = 0; i < s.length; i++) {
        int d = rank - s.length + i;
        long v = s[i];
        if (v == out[d] || v == 1) {
          continue;
        }
        if (out[d] != 1) {
          throw new IllegalArgumentException(
              "shapes "
                  + Arrays.deepToString(shapes).replace("[[", "[").replace("]]", "]")
                  + " do not broadcast (dimension "
                  + d
                  + ": "
                  + out[d]
                  + " vs "
                  + v
                  + ")");
        }
        out[d] = v;
      }
    }
    return out;
  }

  /**
   * Runs the broadcasting ND4J custom op {@code op} on {@code a} and {@code b} into a new array of
   * type {@code outType} with their broadcast shape.
   */
  static INDArray binary(String op, INDArray a, INDArray b, DataType outType) {
    INDArray out = Nd4j.createUninitialized(outType, shape(a.shape(), b.shape()));
    if (out.isEmpty()) {
      return out;
    }
    Nd4j.exec(DynamicCustomOp.builder(op).addInputs(a, b).addOutputs(out).build());
    return out;
  }

  /**
   * Runs the broadcasting custom op {@code op} on {@code a} and {@code b}, writing into {@code
   * a}, which must have the broadcast shape and be an array this op allocated (never an input).
   */
  static INDArray binaryInPlace(String op, INDArray a, INDArray b) {
    if (a.isEmpty()) {
      return a;
    }
    Nd4j.exec(DynamicCustomOp.builder(op).addInputs(a, b).addOutputs(a).build());
    return a;
  }

  /** {@code a} expanded (materialized) to {@code shape}; {@code a} itself if it has it already. */
  static INDArray to(INDArray a, long[] shape) {
    if (Arrays.equals(a.shape(), shape)) {
      return a;
    }
    INDArray out = Nd4j.createUninitialized(a.dataType(), shape);
    if (out.isEmpty()) {
      return out;
    }
    Nd4j.exec(
        DynamicCustomOp.builder("broadcast_to")
            .addInputs(a, Nd4j.createFromArray(shape))
            .addOutputs(out)
            .build());
    return out;
  }

  /**
   * {@code b} reshaped for the legacy broadcasting of opset &lt; 7 ({@code broadcast=1} with an
   * explicit {@code axis}): its dimensions line up with {@code a}'s from {@code axis} on, and
   * trailing 1s are added so that numpy broadcasting does the rest.
   */
  static INDArray legacyAlign(OnnxNode node, INDArray b, int rankA, long axis) {
    long[] s = b.shape();
    if (s.length == 0 || (s.length == 1 && s[0] == 1)) {
      return b;
    }
    long start = axis < 0 ? axis + rankA : axis;
    if (start < 0 || start + s.length > rankA) {
      throw node.error(
          "legacy broadcast axis " + axis + " does not fit shape " + Arrays.toString(s)
              + " into rank " + rankA);
    }
    long[] t = new long[rankA - (int) start];
    Arrays.fill(t, 1);
    System.arraycopy(s, 0, t, 0, s.length);
    return b.reshape(t);
  }

  /**
   * A per-axis parameter (1-D, one value per index of {@code axis}) reshaped to broadcast
   * against an array of rank {@code rank}: [C] becomes [C, 1, ..., 1] with {@code rank - axis}
   * dimensions.
   */
  static INDArray alongAxis(INDArray p, int rank, int axis) {
    long[] t = new long[rank - axis];
    Arrays.fill(t, 1);
    t[0] = p.length();
    return p.reshape(t);
  }
}
