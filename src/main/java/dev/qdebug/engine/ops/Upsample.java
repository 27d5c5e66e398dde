package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Upsample (opsets 7..9, deprecated since 10): scales as attribute (7, 8) or input (9), modes
 * nearest and linear, asymmetric coordinates and onnxruntime's legacy nearest rounding.
 */
final class Upsample implements Op {
  private final OnnxNode node;
  private final Resize resize;
  private final double[] scalesAttr;

  Upsample(OnnxNode node, int opset) {
    this.node = node;
    Resize.Mode mode = Resize.parseMode(node, node.attrString("mode", "nearest"));
    if (mode == Resize.Mode.CUBIC) {
      throw node.error("mode 'cubic' is not defined for Upsample");
    }
    resize = new Resize(node, mode);
    float[] s = node.attrFloats("scales").orElse(null);
    if (s == null) {
      scalesAttr = null;
    } else {
      scalesAttr = new double[s.length];
      for (int i = 0; i < s.length; i++) {
        scalesAttr[i] = s[i];
      }
    }
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    double[] scales;
    if (ShapeArgs.given(in, 1)) {
      scales = ShapeArgs.doubles(in[1]);
    } else if (scalesAttr != null) {
      scales = scalesAttr;
    } else {
      throw node.error("needs scales (an attribute before opset 9, an input from 9)");
    }
    return new INDArray[] {resize.resize(in[0], scales, null, null)};
  }
}
