package dev.qdebug.engine.ops;

import dev.qdebug.engine.OpRegistry;

/**
 * Ops that move data without arithmetic: reshape, transpose, concat, split, slice, gather, pad,
 * resize and shape arithmetic.
 */
final class ShapeOps {
  private ShapeOps() {}

  static void register(OpRegistry r) {
    r.put("Identity", Identity::new);
    r.put("Constant", Constant::new);
    r.put("ConstantOfShape", ConstantOfShape::new);
    r.put("Shape", Shape::new);
    r.put("Flatten", Flatten::new);
    r.put("Reshape", Reshape::new);
    r.put("Transpose", Transpose::new);
    r.put("Concat", Concat::new);
    r.put("Split", Split::new);
    r.put("Slice", Slice::new);
    r.put("Gather", Gather::new);
    r.put("Squeeze", Squeeze::new);
    r.put("Unsqueeze", Unsqueeze::new);
    r.put("Expand", Expand::new);
    r.put("Tile", Tile::new);
    r.put("Pad", Pad::new);
    r.put("Resize", Resize::new);
    r.put("Upsample", Upsample::new);
    r.put("DepthToSpace", DepthToSpace::new);
    r.put("SpaceToDepth", SpaceToDepth::new);
  }
}
