package dev.qdebug.engine.ops;

import dev.qdebug.engine.OpRegistry;

/** Registers every op qdebug implements. */
public final class StandardOps {
  private StandardOps() {}

  public static void registerAll(OpRegistry r) {
    NnOps.register(r);
    ElementwiseOps.register(r);
    ShapeOps.register(r);
  }
}
