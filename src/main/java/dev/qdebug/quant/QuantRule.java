package dev.qdebug.quant;

import dev.qdebug.engine.Plan;
import dev.qdebug.onnx.OnnxNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Which tensors a calibration quantizes by default, as an int8 accelerator runs a network:
 *
 * <ul>
 *   <li>both operands of the matrix ops ({@code Conv}, {@code ConvTranspose}, {@code Gemm},
 *       {@code MatMul}): the data input as an activation, the weight (a constant) as a weight,
 *       per output channel (Conv axis 0, ConvTranspose axis 1, Gemm axis 0 with {@code transB}
 *       else 1, MatMul the last axis); biases are not quantized (accelerators add them in int32);
 *   <li>the non-constant inputs of the elementwise and pooling ops the accelerator runs in int8:
 *       {@code Add}, {@code Sub}, {@code Mul}, {@code Concat}, {@code MaxPool}, {@code
 *       AveragePool}, {@code GlobalAveragePool}, {@code GlobalMaxPool}, {@code Resize}, {@code
 *       Upsample}.
 * </ul>
 *
 * A tensor feeding several such ops gets one calibration node; a weight whose consumers want
 * different channel axes is quantized per tensor.
 */
public final class QuantRule {
  /** Ops whose first two inputs are quantized. */
  public static final Set<String> MATRIX_OPS = Set.of("Conv", "ConvTranspose", "Gemm", "MatMul");

  /** Ops whose non-constant inputs are quantized. */
  public static final Set<String> ELEMENTWISE_OPS =
      Set.of(
          "Add", "Sub", "Mul", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool",
          "GlobalMaxPool", "Resize", "Upsample");

  /** A tensor to quantize. {@code axis} is the weight's channel axis, -1 for activations. */
  public record Target(String tensor, TensorKind kind, int axis) {}

  private QuantRule() {}

  /** The tensors to quantize in {@code plan}, in the order they are first consumed. */
  public static Map<String, Target> select(Plan plan) {
    Map<String, Target> out = new LinkedHashMap<>();
    for (Plan.Step step : plan.steps()) {
      OnnxNode n = step.node();
      String op = n.opType();
      if (MATRIX_OPS.contains(op)) {
        for (int i = 0; i < Math.min(2, n.inputs().size()); i++) {
          String t = n.input(i);
          if (t.isEmpty()) {
            continue;
          }
          if (plan.isConstant(t)) {
            if (plan.constant(t).dataType() != org.nd4j.linalg.api.buffer.DataType.FLOAT) {
              continue;
            }
            int axis = i == 1 ? weightAxis(n, plan.constant(t).rank()) : -1;
            add(out, new Target(t, TensorKind.WEIGHT, axis));
          } else {
            add(out, new Target(t, TensorKind.ACTIVATION, -1));
          }
        }
      } else if (ELEMENTWISE_OPS.contains(op)) {
        int count = op.equals("Resize") || op.equals("Upsample") ? 1 : n.inputs().size();
        for (int i = 0; i < count; i++) {
          String t = n.input(i);
          if (!t.isEmpty() && !plan.isConstant(t)) {
            add(out, new Target(t, TensorKind.ACTIVATION, -1));
          }
        }
      }
    }
    return out;
  }

  private static void add(Map<String, Target> out, Target t) {
    Target old = out.get(t.tensor());
    if (old == null) {
      out.put(t.tensor(), t);
    } else if (old.axis() != t.axis()) {
      out.put(t.tensor(), new Target(t.tensor(), old.kind(), -1));
    }
  }

  static int weightAxis(OnnxNode n, int rank) {
    return switch (n.opType()) {
      case "Conv" -> 0;
      case "ConvTranspose" -> 1;
      case "Gemm" -> n.attrInt("transB", 0) != 0 ? 0 : 1;
      default -> rank >= 2 ? rank - 1 : -1; // MatMul B [.., K, N]: per output column
    };
  }
}
