package dev.qdebug.quant;

import dev.qdebug.engine.Plan;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization", section 4.1) of two
 * matrix layers around a positively homogeneous activation: {@code first} (Conv, Gemm or MatMul
 * with a constant weight W1), then optionally {@code Relu}/{@code LeakyRelu}/{@code PRelu} (f(s x)
 * = s f(x) for s > 0), then {@code second} (constant weight W2), each intermediate tensor read by
 * the next node only. With r1_i the range of W1's output channel i and r2_i that of W2's input
 * channel i, {@code s_i = sqrt(r1_i / r2_i)}; {@code W1'[i] = W1[i] / s_i}, {@code b1'[i] = b1[i] /
 * s_i}, {@code W2'[:, i] = W2[:, i] * s_i}. The float function is unchanged and both ranges become
 * {@code sqrt(r1_i * r2_i)}: per-tensor weights of either layer no longer span channels of very
 * different ranges.
 */
public final class CrossLayerEqualization {
  private static final Set<String> MATRIX = Set.of("Conv", "Gemm", "MatMul");
  private static final Set<String> HOMOGENEOUS = Set.of("Relu", "LeakyRelu", "PRelu");

  /**
   * An equalizable pair.
   *
   * @param first the node whose output channels are scaled down
   * @param activation the activation node between them, or null
   * @param second the node whose input channels are scaled up
   * @param w1 first's weight; {@code b1} its bias or null
   * @param w2 second's weight
   * @param between the tensor second reads (its quantized input)
   */
  public record Pair(
      String first, String activation, String second, String w1, String b1, String w2, String between) {}

  private CrossLayerEqualization() {}

  /** The pair {@code node} belongs to (as first, else as second), if any. */
  public static Optional<Pair> around(Plan plan, String node) {
    Optional<Pair> asFirst = startingAt(plan, node);
    if (asFirst.isPresent()) {
      return asFirst;
    }
    OnnxModel m = plan.model();
    OnnxNode n = m.findNode(node).orElse(null);
    if (n == null || !MATRIX.contains(n.opType())) {
      return Optional.empty();
    }
    OnnxNode p = producer(m, n.input(0));
    if (p != null && HOMOGENEOUS.contains(p.opType())) {
      p = producer(m, p.input(0));
    }
    if (p == null) {
      return Optional.empty();
    }
    return startingAt(plan, p.name()).filter(x -> x.second().equals(node));
  }

  /** The pair whose first node is {@code node}, if the graph allows one. */
  public static Optional<Pair> startingAt(Plan plan, String node) {
    OnnxModel m = plan.model();
    OnnxNode a = m.findNode(node).orElse(null);
    if (a == null || !MATRIX.contains(a.opType()) || a.inputs().size() < 2) {
      return Optional.empty();
    }
    String w1 = a.input(1);
    if (!initializer(m, plan, w1) || a.outputs().size() != 1) {
      return Optional.empty();
    }
    String b1 = a.inputs().size() > 2 && !a.input(2).isEmpty() ? a.input(2) : null;
    if (b1 != null && (!initializer(m, plan, b1) || plan.constant(b1).rank() != 1)) {
      return Optional.empty();
    }
    String t = a.outputs().get(0);
    List<OnnxNode> next = consumers(m, t);
    OnnxNode act = null;
    if (next.size() == 1 && HOMOGENEOUS.contains(next.get(0).opType())) {
      act = next.get(0);
      if (act.opType().equals("LeakyRelu") && act.attrFloat("alpha", 0.01f) < 0) {
        return Optional.empty();
      }
      if (act.opType().equals("PRelu")) {
        return Optional.empty(); // a per-channel slope would have to stay, fine, but keep it simple
      }
      t = act.outputs().get(0);
      next = consumers(m, t);
    }
    if (next.size() != 1 || isGraphOutput(m, a.outputs().get(0)) || isGraphOutput(m, t)) {
      return Optional.empty();
    }
    OnnxNode b = next.get(0);
    if (!MATRIX.contains(b.opType()) || !b.input(0).equals(t) || b.inputs().size() < 2) {
      return Optional.empty();
    }
    String w2 = b.input(1);
    if (!initializer(m, plan, w2) || w2.equals(w1)) {
      return Optional.empty();
    }
    int c1 = channels(plan.constant(w1), outAxis(a, plan.constant(w1).rank()));
    int in2 = inAxis(b, plan.constant(w2));
    if (in2 < 0 || channels(plan.constant(w2), in2) != c1) {
      return Optional.empty();
    }
    if (b1 != null && plan.constant(b1).length() != c1) {
      return Optional.empty();
    }
    return Optional.of(new Pair(a.name(), act == null ? null : act.name(), b.name(), w1, b1, w2, t));
  }

  /** The per-channel scales {@code s_i = sqrt(r1_i / r2_i)} (1 where either range is 0). */
  public static float[] scales(Plan plan, Pair p) {
    OnnxModel m = plan.model();
    INDArray w1 = plan.constant(p.w1());
    INDArray w2 = plan.constant(p.w2());
    float[] r1 = absMax(w1, outAxis(m.node(p.first()), w1.rank()));
    float[] r2 = absMax(w2, inAxis(m.node(p.second()), w2));
    float[] s = new float[r1.length];
    for (int i = 0; i < s.length; i++) {
      s[i] = r1[i] > 0 && r2[i] > 0 ? (float) Math.sqrt((double) r1[i] / r2[i]) : 1f;
    }
    return s;
  }

  /** The equalized constants: new values of {@code w1}, {@code b1} (when present) and {@code w2}. */
  public static Map<String, INDArray> apply(Plan plan, Pair p, float[] s) {
    OnnxModel m = plan.model();
    float[] inv = new float[s.length];
    for (int i = 0; i < s.length; i++) {
      inv[i] = 1f / s[i];
    }
    Map<String, INDArray> out = new LinkedHashMap<>();
    INDArray w1 = plan.constant(p.w1());
    out.put(p.w1(), scale(w1, outAxis(m.node(p.first()), w1.rank()), inv));
    if (p.b1() != null) {
      out.put(p.b1(), scale(plan.constant(p.b1()), 0, inv));
    }
    INDArray w2 = plan.constant(p.w2());
    out.put(p.w2(), scale(w2, inAxis(m.node(p.second()), w2), s));
    return out;
  }

  /** Per channel along {@code axis}, the largest magnitude. */
  public static float[] absMax(INDArray w, int axis) {
    long[] shape = w.shape();
    int ch = (int) shape[axis];
    long inner = dev.qdebug.quant.Channels.inner(shape, axis);
    float[] v = w.dup('c').data().asFloat();
    float[] r = new float[ch];
    for (int e = 0; e < v.length; e++) {
      int c = (int) ((e / inner) % ch);
      r[c] = Math.max(r[c], Math.abs(v[e]));
    }
    return r;
  }

  /** {@code w} with every element of channel c (along {@code axis}) multiplied by {@code f[c]}. */
  public static INDArray scale(INDArray w, int axis, float[] f) {
    long[] shape = w.shape();
    int ch = (int) shape[axis];
    long inner = dev.qdebug.quant.Channels.inner(shape, axis);
    float[] v = w.dup('c').data().asFloat();
    for (int e = 0; e < v.length; e++) {
      v[e] *= f[(int) ((e / inner) % ch)];
    }
    return Nd4j.createFromArray(v).reshape('c', shape);
  }

  /** The axis of a weight that indexes the layer's output channels. */
  public static int outAxis(OnnxNode n, int rank) {
    return QuantRule.weightAxis(n, rank);
  }

  /**
   * The axis of {@code n}'s weight that indexes its input channels (-1 when they do not map one
   * to one: a grouped convolution other than depthwise).
   */
  static int inAxis(OnnxNode n, INDArray w) {
    return switch (n.opType()) {
      case "Conv" -> {
        long group = n.attrInt("group", 1);
        if (group == 1) {
          yield 1;
        }
        yield w.size(1) == 1 && group == w.size(0) ? 0 : -1; // depthwise: channel i is filter i
      }
      case "Gemm" -> n.attrInt("transB", 0) != 0 ? 1 : 0;
      case "MatMul" -> w.rank() == 2 ? 0 : -1;
      default -> -1;
    };
  }

  private static int channels(INDArray w, int axis) {
    return axis < 0 ? -1 : (int) w.size(axis);
  }

  private static boolean initializer(OnnxModel m, Plan plan, String t) {
    return m.initializers().containsKey(t)
        && plan.isConstant(t)
        && plan.constant(t).dataType() == org.nd4j.linalg.api.buffer.DataType.FLOAT;
  }

  private static OnnxNode producer(OnnxModel m, String tensor) {
    for (OnnxNode n : m.nodes()) {
      if (n.outputs().contains(tensor)) {
        return n;
      }
    }
    return null;
  }

  private static List<OnnxNode> consumers(OnnxModel m, String tensor) {
    return m.nodes().stream().filter(n -> n.inputs().contains(tensor)).toList();
  }

  private static boolean isGraphOutput(OnnxModel m, String tensor) {
    return m.outputs().stream().anyMatch(v -> v.name().equals(tensor));
  }
}
