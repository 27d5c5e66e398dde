package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.function.BiFunction;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.impl.scalar.LeakyReLU;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.api.ops.impl.transforms.bool.BooleanNot;
import org.nd4j.linalg.api.ops.impl.transforms.floating.Sqrt;
import org.nd4j.linalg.api.ops.impl.transforms.same.Abs;
import org.nd4j.linalg.api.ops.impl.transforms.same.Ceil;
import org.nd4j.linalg.api.ops.impl.transforms.same.Cube;
import org.nd4j.linalg.api.ops.impl.transforms.same.Floor;
import org.nd4j.linalg.api.ops.impl.transforms.same.Negative;
import org.nd4j.linalg.api.ops.impl.transforms.same.Reciprocal;
import org.nd4j.linalg.api.ops.impl.transforms.strict.ELU;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Erf;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Exp;
import org.nd4j.linalg.api.ops.impl.transforms.strict.HardSigmoid;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Log;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Mish;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Rint;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Sigmoid;
import org.nd4j.linalg.api.ops.impl.transforms.strict.SoftPlus;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Tanh;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The one-input elementwise ops (math functions and activations), as one class with a table of
 * kernels: each factory below parses the node's attributes once and returns the kernel. A kernel
 * writes into a fresh array of the input's shape and type; the common ones are one native op
 * (ReLU, sigmoid, tanh, ...), the parameterized activations a short chain of in-place ops on that
 * array.
 */
final class Unary implements Op {
  /** Computes the output for one input; never modifies {@code x}. */
  @FunctionalInterface
  interface Kernel {
    INDArray apply(INDArray x);
  }

  private final OnnxNode node;
  private final Kernel kernel;
  private final boolean floatOnly;

  private Unary(OnnxNode node, Kernel kernel, boolean floatOnly) {
    this.node = node;
    this.kernel = kernel;
    this.floatOnly = floatOnly;
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    if (floatOnly && !x.dataType().isFPType()) {
      throw node.error("needs a floating-point input, got " + x.dataType());
    }
    return new INDArray[] {kernel.apply(x)};
  }

  /** A kernel running the legacy ND4J transform {@code op} (built from input and output). */
  private static Kernel legacy(BiFunction<INDArray, INDArray, org.nd4j.linalg.api.ops.Op> op) {
    return x -> {
      INDArray z = x.ulike();
      if (!z.isEmpty()) {
        Nd4j.getExecutioner().exec(op.apply(x, z));
      }
      return z;
    };
  }

  /** Clamps {@code z} (an array this op owns) to [lo, hi] in place; floating point only. */
  static INDArray clampInPlace(INDArray z, double lo, double hi) {
    return clamp(z, z, lo, hi);
  }

  /** Writes {@code x} clamped to [lo, hi] (lo &lt;= hi) into {@code z}; floating point only. */
  static INDArray clamp(INDArray x, INDArray z, double lo, double hi) {
    if (!z.isEmpty()) {
      Nd4j.exec(
          DynamicCustomOp.builder("clipbyvalue")
              .addInputs(x)
              .addOutputs(z)
              .addFloatingPointArguments(lo, hi)
              .build());
    }
    return z;
  }

  private static Op floatOp(OnnxNode node, Kernel k) {
    return new Unary(node, k, true);
  }

  private static Op anyOp(OnnxNode node, Kernel k) {
    return new Unary(node, k, false);
  }

  static Op relu(OnnxNode node, int opset) {
    return anyOp(node, legacy((x, z) -> new RectifiedLinear(x, z, 0.0)));
  }

  static Op leakyRelu(OnnxNode node, int opset) {
    double alpha = node.attrFloat("alpha", 0.01f);
    return floatOp(node, legacy((x, z) -> new LeakyReLU(x, z, alpha)));
  }

  static Op sigmoid(OnnxNode node, int opset) {
    Kernel nd4j = legacy(Sigmoid::new);
    return floatOp(
        node,
        x -> {
          INDArray y = Dnnl.sigmoid(x); // vectorized; null for what it does not take
          return y != null ? y : nd4j.apply(x);
        });
  }

  static Op hardSigmoid(OnnxNode node, int opset) {
    float alpha = node.attrFloat("alpha", 0.2f);
    float beta = node.attrFloat("beta", 0.5f);
    if (alpha == 0.2f && beta == 0.5f) {
      return floatOp(node, legacy(HardSigmoid::new)); // min(1, max(0, 0.2 x + 0.5)) natively
    }
    return floatOp(node, x -> clampInPlace(x.mul(alpha).addi(beta), 0, 1));
  }

  static Op hardSwish(OnnxNode node, int opset) {
    // x * max(0, min(1, x / 6 + 0.5))
    return floatOp(node, x -> clampInPlace(x.mul(1.0f / 6).addi(0.5f), 0, 1).muli(x));
  }

  static Op tanh(OnnxNode node, int opset) {
    return floatOp(node, legacy(Tanh::new));
  }

  static Op erf(OnnxNode node, int opset) {
    return floatOp(node, legacy(Erf::new));
  }

  static Op gelu(OnnxNode node, int opset) {
    String approximate = node.attrString("approximate", "none");
    switch (approximate) {
      case "none" -> {
        // 0.5 x (1 + erf(x / sqrt 2))
        return floatOp(
            node,
            x -> {
              INDArray t = x.mul((float) (1 / Math.sqrt(2)));
              Nd4j.getExecutioner().exec(new Erf(t, t));
              return t.addi(1f).muli(x).muli(0.5f);
            });
      }
      case "tanh" -> {
        // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        float k = (float) Math.sqrt(2 / Math.PI);
        return floatOp(
            node,
            x -> {
              INDArray t = x.ulike();
              Nd4j.getExecutioner().exec(new Cube(x, t));
              t.muli(0.044715f).addi(x).muli(k);
              Nd4j.getExecutioner().exec(new Tanh(t, t));
              return t.addi(1f).muli(x).muli(0.5f);
            });
      }
      default -> throw node.error(
          "attribute 'approximate' is '" + approximate + "', expected 'none' or 'tanh'");
    }
  }

  static Op neg(OnnxNode node, int opset) {
    return anyOp(node, legacy(Negative::new));
  }

  static Op abs(OnnxNode node, int opset) {
    return anyOp(node, legacy(Abs::new));
  }

  static Op exp(OnnxNode node, int opset) {
    return floatOp(node, legacy(Exp::new));
  }

  static Op log(OnnxNode node, int opset) {
    return floatOp(node, legacy(Log::new));
  }

  static Op sqrt(OnnxNode node, int opset) {
    return floatOp(node, legacy(Sqrt::new));
  }

  static Op reciprocal(OnnxNode node, int opset) {
    return floatOp(node, legacy(Reciprocal::new));
  }

  /** Round: half to even (ND4J's rint; its "round" rounds half away from zero). */
  static Op round(OnnxNode node, int opset) {
    return floatOp(node, legacy(Rint::new));
  }

  static Op floor(OnnxNode node, int opset) {
    return floatOp(node, legacy(Floor::new));
  }

  static Op ceil(OnnxNode node, int opset) {
    return floatOp(node, legacy(Ceil::new));
  }

  static Op softplus(OnnxNode node, int opset) {
    return floatOp(node, legacy(SoftPlus::new));
  }

  static Op elu(OnnxNode node, int opset) {
    return floatOp(node, eluKernel(node.attrFloat("alpha", 1.0f)));
  }

  /** ELU (alpha (e^x - 1) below 0), an ND4J custom op. */
  private static Kernel eluKernel(double alpha) {
    return x -> {
      INDArray z = x.ulike();
      if (!z.isEmpty()) {
        Nd4j.exec(new ELU(x, z, alpha));
      }
      return z;
    };
  }

  static Op selu(OnnxNode node, int opset) {
    // gamma * (x > 0 ? x : alpha (e^x - 1))
    double alpha = node.attrFloat("alpha", 1.67326319217681884765625f);
    float gamma = node.attrFloat("gamma", 1.05070102214813232421875f);
    Kernel elu = eluKernel(alpha);
    return floatOp(node, x -> elu.apply(x).muli(gamma));
  }

  static Op mish(OnnxNode node, int opset) {
    return floatOp(node, legacy(Mish::new));
  }

  static Op not(OnnxNode node, int opset) {
    return anyOp(
        node,
        x -> {
          if (x.dataType() != DataType.BOOL) {
            throw node.error("needs a bool input, got " + x.dataType());
          }
          return legacy(BooleanNot::new).apply(x);
        });
  }
}
