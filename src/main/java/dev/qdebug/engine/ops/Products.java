package dev.qdebug.engine.ops;

import dev.qdebug.engine.Tensors;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Matrix products for MatMul and Gemm. Two facts measured on ND4J 1.0.0-M2 (2 cores, 2026-12-07)
 * decide how they run:
 *
 * <ul>
 *   <li>{@code INDArray.mmul} is 2-7x slower than ND4J's {@code matmul} custom op writing into a
 *       row-major output allocated here (a 128x80 by 80x240 product: 560 against 85 us; 8x2048 by
 *       2048x1000: 1.4 against 0.43 ms), so {@link #gemm} uses the op;
 *   <li>the batched {@code matmul} op spends about 2 us per matrix of the batch whatever its size:
 *       512 products of 4x16 by 16x4 take 0.9 ms, where a Java loop needs tens of microseconds. A
 *       batch of small float products ({@link #small}) runs here as one loop, {@link #batched}.
 * </ul>
 */
final class Products {
  private Products() {}

  /**
   * Per-matrix multiply-adds up to which a batch of float products runs as a Java loop (above it
   * the native product's speed outweighs its per-matrix cost).
   */
  static final long SMALL_MACS = 8192;

  /** The product of matrices {@code a} [m, k] and {@code b} [k, n] (any strides), row-major. */
  static INDArray gemm(INDArray a, INDArray b) {
    INDArray y = Nd4j.createUninitialized(a.dataType(), a.size(0), b.size(1));
    if (y.isEmpty()) {
      return y;
    }
    if (a.size(1) == 0) {
      return y.assign(0);
    }
    Nd4j.exec(DynamicCustomOp.builder("matmul").addInputs(a, b).addOutputs(y).build());
    return y;
  }

  /** Whether products of {@code rows x k} by {@code k x cols} count as small. */
  static boolean small(long rows, long k, long cols) {
    return rows * k * cols <= SMALL_MACS;
  }

  /**
   * The batched float product of {@code a} [..., rows, k] and {@code b} [..., k, cols] whose batch
   * dimensions broadcast to {@code batch} (each operand's own batch dimensions are right-aligned
   * with it, a missing or size-1 dimension repeating), as a row-major array [batch..., rows, cols].
   * Each value sums its k products in order, in float.
   */
  static INDArray batched(INDArray a, INDArray b, long[] batch, long rows, long k, long cols) {
    long[] shape = Arrays.copyOf(batch, batch.length + 2);
    shape[batch.length] = rows;
    shape[batch.length + 1] = cols;
    if (a.isEmpty() || b.isEmpty()) {
      // no values to read: empty, or every sum over an empty k is 0
      return Window.product(shape) == 0
          ? Nd4j.create(DataType.FLOAT, shape)
          : Nd4j.zeros(DataType.FLOAT, shape);
    }
    float[] av = Tensors.floats(a);
    float[] bv = Tensors.floats(b);
    int r = (int) rows;
    int kk = (int) k;
    int c = (int) cols;
    long[] aStep = batchSteps(a.shape(), batch, r * kk);
    long[] bStep = batchSteps(b.shape(), batch, kk * c);
    int count = (int) Window.product(batch);
    float[] yv = new float[count * r * c];
    int[] index = new int[batch.length];
    long ao = 0;
    long bo = 0;
    for (int n = 0; n < count; n++) {
      int yo = n * r * c;
      for (int i = 0; i < r; i++) {
        int yi = yo + i * c;
        int ai = (int) ao + i * kk;
        for (int p = 0; p < kk; p++) {
          float x = av[ai + p];
          int bp = (int) bo + p * c;
          for (int j = 0; j < c; j++) {
            yv[yi + j] += x * bv[bp + j];
          }
        }
      }
      // next batch index, row-major; offsets follow each operand's steps
      for (int d = batch.length - 1; d >= 0; d--) {
        ao += aStep[d];
        bo += bStep[d];
        if (++index[d] < batch[d]) {
          break;
        }
        ao -= aStep[d] * batch[d];
        bo -= bStep[d] * batch[d];
        index[d] = 0;
      }
    }
    INDArray y = Nd4j.createUninitialized(DataType.FLOAT, shape);
    y.data().asNioFloat().put(0, yv);
    return y;
  }

  /**
   * Per batch dimension of {@code batch}, how far an operand of {@code shape} (matrix dimensions
   * last, {@code matrix} values each) moves in its row-major values: 0 where it repeats.
   */
  private static long[] batchSteps(long[] shape, long[] batch, long matrix) {
    long[] step = new long[batch.length];
    int own = shape.length - 2;
    long stride = matrix;
    for (int d = batch.length - 1; d >= 0; d--) {
      int od = d - (batch.length - own);
      long size = od >= 0 ? shape[od] : 1;
      step[d] = size == 1 ? 0 : stride;
      stride *= size;
    }
    return step;
  }
}
