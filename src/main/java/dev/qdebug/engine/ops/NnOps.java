package dev.qdebug.engine.ops;

import dev.qdebug.engine.OpRegistry;

/** Convolution, pooling, normalization, matrix products and softmax. */
final class NnOps {
  private NnOps() {}

  static void register(OpRegistry r) {
  }
}
