package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gemm (all opsets): {@code Y = alpha * A' * B' + beta * C} with {@code A'}, {@code B'} optionally
 * transposed and C (optional since opset 11) broadcast to {@code [M, N]}. The product runs on
 * ND4J's {@code matmul} op ({@link Products#gemm}) or oneDNN (below); integer inputs are computed in double and
 * cast back. Float products with {@code alpha = 1}, A as given and C absent, {@code beta = 0}, or
 * one row with {@code beta = 1} run on oneDNN ({@link Dnnl.Product}), B read as stored and re-laid out once per weight array.
 */
final class Gemm implements Op {
  private final OnnxNode node;
  private final double alpha;
  private final double beta;
  private final boolean transA;
  private final boolean transB;
  /** Float products on oneDNN ({@link Dnnl.Product}); null where it is off. */
  private final Dnnl.Product dnnl;

  Gemm(OnnxNode node, int opset) {
    this.node = node;
    this.alpha = node.attrFloat("alpha", 1f);
    this.beta = node.attrFloat("beta", 1f);
    this.transA = node.attrInt("transA", 0) != 0;
    this.transB = node.attrInt("transB", 0) != 0;
    this.dnnl = Dnnl.enabled() ? new Dnnl.Product() : null;
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray a = in[0];
    INDArray b = in[1];
    INDArray c = in.length > 2 ? in[2] : null;
    if (a.rank() != 2 || b.rank() != 2) {
      throw node.error(
          "inputs A "
              + Arrays.toString(a.shape())
              + " and B "
              + Arrays.toString(b.shape())
              + " must be matrices");
    }
    DataType type = a.dataType();
    if (dnnl != null && type == DataType.FLOAT && alpha == 1 && !transA) {
      // B as stored (oneDNN reads it transposed in place), C as the bias when it is one row
      long n = transB ? b.size(0) : b.size(1);
      boolean row = c != null && beta == 1 && c.length() == n && (c.rank() == 1 || (c.rank() == 2 && c.size(0) == 1));
      if (c == null || beta == 0 || row) {
        INDArray y = dnnl.run(a, b, transB, row ? c : null);
        if (y != null) {
          return new INDArray[] {y};
        }
      }
    }
    boolean fp = type == DataType.FLOAT || type == DataType.DOUBLE;
    DataType work = fp ? type : DataType.DOUBLE;
    INDArray a2 = cast(transA ? a.transpose() : a, work);
    INDArray b2 = cast(transB ? b.transpose() : b, work);
    if (a2.size(1) != b2.size(0)) {
      throw node.error(
          "A' "
              + Arrays.toString(a2.shape())
              + " and B' "
              + Arrays.toString(b2.shape())
              + " (after transA="
              + (transA ? 1 : 0)
              + ", transB="
              + (transB ? 1 : 0)
              + ") do not chain");
    }
    long m = a2.size(0);
    long n = b2.size(1);
    if (c == null || beta == 0) {
      INDArray y = Products.gemm(a2, b2);
      if (alpha != 1) {
        y.muli(alpha);
      }
      return new INDArray[] {y.dataType() == type ? y : y.castTo(type)};
    }
    INDArray c2 = cast(c, work);
    long[] cs = c2.shape();
    boolean rowOrColumn =
        (cs.length == 1 && cs[0] == n)
            || (cs.length == 2 && (cs[0] == 1 || cs[0] == m) && (cs[1] == n || cs[1] == 1));
    if (c2.length() != 1 && !rowOrColumn) {
      throw node.error(
          "C has shape "
              + Arrays.toString(cs)
              + ", which does not broadcast to the output ["
              + m
              + ", "
              + n
              + "]");
    }
    if (beta != 1) {
      c2 = c2.mul(beta);
    }
    INDArray y = Products.gemm(a2, b2);
    if (alpha != 1) {
      y.muli(alpha);
    }
    if (c2.length() == 1) {
      y.addi(c2.getDouble(0));
    } else {
      y = Broadcast.binaryInPlace("add", y, c2);
    }
    return new INDArray[] {y.dataType() == type ? y : y.castTo(type)};
  }

  private static INDArray cast(INDArray a, DataType t) {
    return a.dataType() == t ? a : a.castTo(t);
  }
}
