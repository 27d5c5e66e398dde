package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * GlobalAveragePool and GlobalMaxPool: one reduction over every spatial dimension, kept as size-1
 * dimensions ({@code [N, C, 1, 1]} for 2-D input); native, or a Java pass over a channels-last
 * float tensor's NHWC values.
 */
final class GlobalPool implements Op {
  private final OnnxNode node;
  private final boolean max;

  private GlobalPool(OnnxNode node, boolean max) {
    this.node = node;
    this.max = max;
  }

  static GlobalPool average(OnnxNode node, int opset) {
    return new GlobalPool(node, false);
  }

  static GlobalPool max(OnnxNode node, int opset) {
    return new GlobalPool(node, true);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    if (x.rank() < 3) {
      throw node.error(
          "input X has shape " + Arrays.toString(x.shape()) + ", expected [N, C, spatial...]");
    }
    if (!max && !x.dataType().isFPType()) {
      throw node.error("input X has element type " + x.dataType() + ", expected a float type");
    }
    if (ChannelsLast.is(x)) {
      // over H and W of the NHWC array: [N, C] in c order is the [N, C, 1, 1] result
      INDArray nhwc = ChannelsLast.storage(x);
      INDArray r =
          nhwc.dataType() == DataType.FLOAT && FlatData.isPlain(nhwc)
              ? overPositions(nhwc)
              : max ? nhwc.max(false, 1, 2) : nhwc.mean(false, 1, 2);
      return new INDArray[] {r.reshape('c', x.size(0), x.size(1), 1, 1)};
    }
    int[] dims = new int[x.rank() - 2];
    for (int i = 0; i < dims.length; i++) {
      dims[i] = i + 2;
    }
    return new INDArray[] {max ? x.max(true, dims) : x.mean(true, dims)};
  }

  /**
   * Mean or max over the positions of a plain float NHWC array, as {@code [N, C]}: one pass adding
   * each position's C values to C running sums (in float, position by position; the mean is the
   * sum divided by the count), which the JIT vectorizes over C. ND4J's reduction over the two
   * strided middle dimensions took 390 us for MnasNet's [1, 7, 7, 1280], this 110-160 in
   * EngineProfile's short runs (2026-12-08).
   */
  private INDArray overPositions(INDArray nhwc) {
    int n = (int) nhwc.size(0);
    int c = (int) nhwc.size(3);
    if (nhwc.length() > Integer.MAX_VALUE) {
      return max ? nhwc.max(false, 1, 2) : nhwc.mean(false, 1, 2);
    }
    int positions = (int) (nhwc.size(1) * nhwc.size(2));
    java.nio.FloatBuffer in = nhwc.data().asNioFloat();
    float[] row = new float[c];
    float[] out = new float[n * c]; // sample b's running sums (maxima) at b * c
    if (max) {
      java.util.Arrays.fill(out, Float.NEGATIVE_INFINITY);
    }
    for (int b = 0; b < n; b++) {
      int o = b * c;
      int base = b * positions * c;
      for (int p = 0; p < positions; p++) {
        in.get(base + p * c, row, 0, c);
        if (max) {
          for (int i = 0; i < c; i++) {
            out[o + i] = Math.max(out[o + i], row[i]);
          }
        } else {
          for (int i = 0; i < c; i++) {
            out[o + i] += row[i];
          }
        }
      }
    }
    if (!max) {
      float count = positions;
      for (int i = 0; i < out.length; i++) {
        out[i] /= count;
      }
    }
    INDArray r = Nd4j.createUninitialized(DataType.FLOAT, n, c);
    r.data().asNioFloat().put(0, out);
    return r;
  }
}
