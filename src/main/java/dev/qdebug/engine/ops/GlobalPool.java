package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * GlobalAveragePool and GlobalMaxPool: one native reduction over every spatial dimension, kept as
 * size-1 dimensions ({@code [N, C, 1, 1]} for 2-D input).
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
      INDArray r = max ? nhwc.max(false, 1, 2) : nhwc.mean(false, 1, 2);
      return new INDArray[] {r.reshape('c', x.size(0), x.size(1), 1, 1)};
    }
    int[] dims = new int[x.rank() - 2];
    for (int i = 0; i < dims.length; i++) {
      dims[i] = i + 2;
    }
    return new INDArray[] {max ? x.max(true, dims) : x.mean(true, dims)};
  }
}
