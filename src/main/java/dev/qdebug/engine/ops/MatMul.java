package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * MatMul (all opsets) with numpy semantics: a 1-D operand gets a dimension of 1 prepended (A) or
 * appended (B) that is removed from the result; batch dimensions broadcast. A batched A times a
 * matrix B is one product over the flattened batch ({@link Products#gemm}); a batch of float
 * products of a few thousand multiply-adds each (attention heads over a few tokens) runs as one
 * Java loop ({@link Products#batched}), larger ones go to ND4J's batched {@code matmul} op after
 * broadcasting the smaller operand when the batch dimensions differ. A float product by a matrix
 * (a linear layer) runs on oneDNN ({@link Dnnl.Product}), the matrix re-laid out once per weight
 * array, and so do larger batched float products with equal batch dimensions ({@link
 * Dnnl.Batched}), read where they lie. Integer inputs are computed in double and cast back.
 */
final class MatMul implements Op {
  private final OnnxNode node;
  /** Float products by a matrix on oneDNN ({@link Dnnl.Product}); null where it is off. */
  private final Dnnl.Product dnnl;
  /** Batched float products on oneDNN ({@link Dnnl.Batched}); null where it is off. */
  private final Dnnl.Batched batchedDnnl;

  MatMul(OnnxNode node, int opset) {
    this.node = node;
    this.dnnl = Dnnl.enabled() ? new Dnnl.Product() : null;
    this.batchedDnnl = Dnnl.enabled() ? new Dnnl.Batched() : null;
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    return new INDArray[] {matmul(in[0], in[1])};
  }

  private INDArray matmul(INDArray a, INDArray b) {
    INDArray given = b;
    if (a.rank() == 0 || b.rank() == 0) {
      throw node.error("MatMul needs inputs of rank 1 or more, got a scalar");
    }
    DataType type = a.dataType();
    boolean fp = type == DataType.FLOAT || type == DataType.DOUBLE;
    DataType work = fp ? type : DataType.DOUBLE;
    if (a.dataType() != work) {
      a = a.castTo(work);
    }
    if (b.dataType() != work) {
      b = b.castTo(work);
    }
    boolean aVec = a.rank() == 1;
    boolean bVec = b.rank() == 1;
    if (aVec) {
      a = a.reshape(1, a.length());
    }
    if (bVec) {
      b = b.reshape(b.length(), 1);
    }
    long[] as = a.shape();
    long[] bs = b.shape();
    long k = as[as.length - 1];
    if (bs[bs.length - 2] != k) {
      throw node.error(
          "inputs of shape "
              + Arrays.toString(as)
              + " and "
              + Arrays.toString(bs)
              + " do not chain (inner dimensions "
              + k
              + " and "
              + bs[bs.length - 2]
              + ")");
    }
    long rows = as[as.length - 2];
    long cols = bs[bs.length - 1];
    long[] batch = broadcastBatch(as, bs);
    INDArray y;
    if (bs.length == 2) {
      // [..., rows, k] x [k, cols]: one product over all batch rows
      INDArray a2 = as.length == 2 ? a : a.reshape('c', Window.product(batch) * rows, k);
      // only B as the graph gives it: the weight cache knows arrays by identity (a cast or a
      // reshaped vector would be a new array, re-laid out at every call)
      y = dnnl != null && work == DataType.FLOAT && b == given ? dnnl.run(a2, b, false, null) : null;
      if (y == null) {
        y = Products.gemm(a2, b);
      }
    } else if (work == DataType.FLOAT && Products.small(rows, k, cols)) {
      y = Products.batched(a, b, batch, rows, k, cols);
    } else {
      // equal batch dimensions: oneDNN reads both where they lie; else ND4J's batched op
      y = batchedDnnl != null && work == DataType.FLOAT ? batchedDnnl.run(a, b) : null;
      if (y == null) {
        y = nd4jBatched(a, b, as, bs, batch, rows, k, cols, work);
      }
    }
    long[] outShape = concat(batch, rows, cols);
    long[] result = new long[outShape.length - (aVec ? 1 : 0) - (bVec ? 1 : 0)];
    int j = 0;
    for (int i = 0; i < outShape.length; i++) {
      boolean drop = (aVec && i == outShape.length - 2) || (bVec && i == outShape.length - 1);
      if (!drop) {
        result[j++] = outShape[i];
      }
    }
    y = y.reshape('c', result);
    return y.dataType() == type ? y : y.castTo(type);
  }

  /** ND4J's batched {@code matmul} op, the operand with fewer batch dimensions broadcast first. */
  private static INDArray nd4jBatched(
      INDArray a, INDArray b, long[] as, long[] bs, long[] batch, long rows, long k, long cols,
      DataType work) {
    long[] aFull = concat(batch, rows, k);
    long[] bFull = concat(batch, k, cols);
    if (!Arrays.equals(as, aFull)) {
      a = a.reshape(withOnes(as, aFull.length)).broadcast(aFull);
    }
    if (!Arrays.equals(bs, bFull)) {
      b = b.reshape(withOnes(bs, bFull.length)).broadcast(bFull);
    }
    INDArray y = Nd4j.createUninitialized(work, concat(batch, rows, cols));
    Nd4j.exec(DynamicCustomOp.builder("matmul").addInputs(a, b).addOutputs(y).build());
    return y;
  }

  private long[] broadcastBatch(long[] as, long[] bs) {
    int na = as.length - 2;
    int nb = bs.length - 2;
    int n = Math.max(na, nb);
    long[] batch = new long[n];
    for (int i = 0; i < n; i++) {
      long da = i - (n - na) >= 0 ? as[i - (n - na)] : 1;
      long db = i - (n - nb) >= 0 ? bs[i - (n - nb)] : 1;
      if (da != db && da != 1 && db != 1) {
        throw node.error(
            "batch dimensions of "
                + Arrays.toString(as)
                + " and "
                + Arrays.toString(bs)
                + " do not broadcast");
      }
      batch[i] = Math.max(da, db);
    }
    return batch;
  }

  private static long[] concat(long[] batch, long r, long c) {
    long[] s = Arrays.copyOf(batch, batch.length + 2);
    s[batch.length] = r;
    s[batch.length + 1] = c;
    return s;
  }

  private static long[] withOnes(long[] shape, int rank) {
    long[] s = new long[rank];
    Arrays.fill(s, 1);
    System.arraycopy(shape, 0, s, rank - shape.length, shape.length);
    return s;
  }
}
