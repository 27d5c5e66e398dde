package dev.qdebug.engine.ops;

import dev.qdebug.engine.OpRegistry;

/** Convolution, pooling, normalization, matrix products and softmax. */
final class NnOps {
  private NnOps() {}

  static void register(OpRegistry r) {
    r.put("Conv", Conv::new);
    r.put("ConvTranspose", ConvTranspose::new);
    r.put("Gemm", Gemm::new);
    r.put("MatMul", MatMul::new);
    r.put("BatchNormalization", BatchNormalization::new);
    r.put("LayerNormalization", LayerNormalization::new);
    r.put("GlobalAveragePool", GlobalPool::average);
    r.put("GlobalMaxPool", GlobalPool::max);
    r.put("AveragePool", Pool::average);
    r.put("MaxPool", Pool::max);
    r.put("Softmax", Softmax::softmax);
    r.put("LogSoftmax", Softmax::logSoftmax);
  }
}
