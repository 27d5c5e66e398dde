package dev.qdebug.engine.ops;

import dev.qdebug.engine.OpRegistry;

/** Unary and binary elementwise math, activations, comparisons, reductions, casts and quantization. */
final class ElementwiseOps {
  private ElementwiseOps() {}

  static void register(OpRegistry r) {
  }
}
