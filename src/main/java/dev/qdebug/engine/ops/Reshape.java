package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reshape: to the shape input (the {@code shape} attribute before opset 5). A 0 copies the input's
 * dimension at that position unless allowzero (opset 14) is set; one -1 is inferred.
 */
final class Reshape implements Op {
  private final OnnxNode node;
  private final boolean allowZero;
  private final long[] shapeAttr;

  Reshape(OnnxNode node, int opset) {
    this.node = node;
    allowZero = node.attrInt("allowzero", 0) != 0;
    shapeAttr = node.attrInts("shape").orElse(null);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    long[] target;
    if (ShapeArgs.named(in, 1)) {
      target = ShapeArgs.longs(in[1]);
    } else if (shapeAttr != null) {
      target = shapeAttr.clone();
    } else {
      throw node.error("has no shape input");
    }
    return new INDArray[] {ShapeArgs.reshape(x, resolve(node, x.shape(), target, allowZero))};
  }

  static long[] resolve(OnnxNode node, long[] in, long[] target, boolean allowZero) {
    long[] out = target.clone();
    int infer = -1;
    long known = 1;
    for (int i = 0; i < out.length; i++) {
      if (out[i] == 0 && !allowZero) {
        if (i >= in.length) {
          throw node.error(
              "shape "
                  + ShapeArgs.str(target)
                  + " copies dimension "
                  + i
                  + " of an input of rank "
                  + in.length);
        }
        out[i] = in[i];
      }
      if (out[i] == -1) {
        if (infer >= 0) {
          throw node.error("shape " + ShapeArgs.str(target) + " has more than one -1");
        }
        infer = i;
      } else if (out[i] < 0) {
        throw node.error("shape " + ShapeArgs.str(target) + " has a negative dimension");
      } else {
        known *= out[i];
      }
    }
    long n = ShapeArgs.product(in, 0, in.length);
    if (infer >= 0) {
      if (known == 0 || n % known != 0) {
        throw node.error("cannot reshape " + ShapeArgs.str(in) + " to " + ShapeArgs.str(target));
      }
      out[infer] = n / known;
    } else if (known != n) {
      throw node.error(
          "cannot reshape "
              + ShapeArgs.str(in)
              + " ("
              + n
              + " elements) to "
              + ShapeArgs.str(target)
              + " ("
              + known
              + " elements)");
    }
    return out;
  }
}
