package dev.qdebug.engine.ops;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Batched matrix products {@code [..., m, k] x [..., k, n]} as one OpenBLAS {@code gemm} per
 * matrix pair, reading both operands in place (c order) and writing into one c-ordered result.
 * ND4J's batched {@code matmul} op computes each batch element by a plain loop over coordinates,
 * not BLAS: at the sizes of MobileViT-S's attention ({@code [N*4, 4, 256, 36] x [N*4, 4, 36,
 * 256]}) that was many times slower than the same products one by one, and slower per image the
 * larger the batch. OpenBLAS is the library ND4J's own 2-D products call, so each matrix of the
 * result equals what a 2-D {@code mmul} of the pair gives.
 */
final class BatchedGemm {
  private static final int ROW_MAJOR = 101;
  private static final int NO_TRANS = 111;

  private BatchedGemm() {}

  /**
   * The product of {@code a} and {@code b} with batch dimensions {@code batch} (each operand's own
   * batch dimensions broadcast to it, right-aligned), or null when this path does not apply
   * (not float32/float64 alike, sizes beyond int, empty).
   */
  static INDArray multiply(INDArray a, INDArray b, long[] batch, long m, long k, long n) {
    DataType type = a.dataType();
    if ((type != DataType.FLOAT && type != DataType.DOUBLE) || b.dataType() != type) {
      return null;
    }
    long count = Window.product(batch);
    if (count == 0 || m == 0 || n == 0 || k == 0 || a.length() > Integer.MAX_VALUE
        || b.length() > Integer.MAX_VALUE || count * m * n > Integer.MAX_VALUE) {
      return null;
    }
    INDArray ad = dense(a);
    INDArray bd = dense(b);
    long[] outShape = new long[batch.length + 2];
    System.arraycopy(batch, 0, outShape, 0, batch.length);
    outShape[batch.length] = m;
    outShape[batch.length + 1] = n;
    INDArray y = Nd4j.createUninitialized(type, outShape, 'c');
    long[] aStep = batchSteps(ad.shape(), batch, m * k);
    long[] bStep = batchSteps(bd.shape(), batch, k * n);
    int[] idx = new int[batch.length];
    long aOff = 0;
    long bOff = 0;
    Pointer pa = ad.data().addressPointer();
    Pointer pb = bd.data().addressPointer();
    Pointer pc = y.data().addressPointer();
    for (long i = 0; i < count; i++) {
      long cOff = i * m * n;
      if (type == DataType.FLOAT) {
        openblas_nolapack.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, (int) m, (int) n, (int) k,
            1f, at((FloatPointer) pa, aOff), (int) k, at((FloatPointer) pb, bOff), (int) n,
            0f, at((FloatPointer) pc, cOff), (int) n);
      } else {
        openblas_nolapack.cblas_dgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, (int) m, (int) n, (int) k,
            1d, at((DoublePointer) pa, aOff), (int) k, at((DoublePointer) pb, bOff), (int) n,
            0d, at((DoublePointer) pc, cOff), (int) n);
      }
      // next batch index, odometer-style, moving both operands' offsets
      for (int d = batch.length - 1; d >= 0; d--) {
        aOff += aStep[d];
        bOff += bStep[d];
        if (++idx[d] < batch[d]) {
          break;
        }
        idx[d] = 0;
        aOff -= aStep[d] * batch[d];
        bOff -= bStep[d] * batch[d];
      }
    }
    return y;
  }

  /**
   * Per batch dimension of the result, how far an operand of shape {@code shape} (c order, its
   * last two dimensions one matrix of {@code matrix} elements) moves when that index grows by one:
   * 0 where the operand has no such dimension or a size of 1 (broadcast).
   */
  private static long[] batchSteps(long[] shape, long[] batch, long matrix) {
    long[] steps = new long[batch.length];
    int own = shape.length - 2;
    long stride = matrix;
    for (int d = batch.length - 1; d >= 0; d--) {
      int j = d - (batch.length - own);
      long size = j >= 0 ? shape[j] : 1;
      steps[d] = size == 1 ? 0 : stride;
      stride *= size;
    }
    return steps;
  }

  /** {@code x} when its values lie in c order from the start of its own buffer, else a copy. */
  private static INDArray dense(INDArray x) {
    boolean plain =
        x.ordering() == 'c'
            && x.offset() == 0
            && x.data().offset() == 0
            && x.data().length() >= x.length()
            && Shape.hasDefaultStridesForShape(x);
    return plain ? x : x.dup('c');
  }

  private static FloatPointer at(FloatPointer base, long offset) {
    return new FloatPointer(base).position(base.position() + offset);
  }

  private static DoublePointer at(DoublePointer base, long offset) {
    return new DoublePointer(base).position(base.position() + offset);
  }
}
