package dev.qdebug.engine.ops;

import dev.qdebug.engine.OpRegistry;

/** Ops that move data without arithmetic: reshape, transpose, concat, split, slice, gather, pad, resize and shape arithmetic. */
final class ShapeOps {
  private ShapeOps() {}

  static void register(OpRegistry r) {
    r.put("Identity", Identity::new);
  }
}
