package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Channels-last tensors: a 4-D tensor whose shape stays {@code [N, C, H, W]} (what every op, hook
 * and caller sees) while its values lie in memory as {@code [N, H, W, C]}, the permuted view of a
 * c-ordered NHWC array (PyTorch's {@code channels_last} memory format). Convolutions of a plan that
 * uses them write their outputs so, which lets depthwise convolutions run on oneDNN without the
 * three re-layouts it makes around every NCHW call (input, output buffer, result back; 85 % of
 * their time) and 1x1 convolutions as one matrix product over the whole batch; element-wise ops
 * ({@link #elementwise}) keep the layout by running on the NHWC arrays. Any other op reads the
 * view as the NCHW tensor it is (ND4J follows the strides; some copy it to c order first).
 */
public final class ChannelsLast {
  private ChannelsLast() {}

  /**
   * Element-wise ops with broadcasting whose result does not depend on how the dimensions are
   * ordered in memory, only on which values meet: run on permuted inputs, they give the permuted
   * result.
   */
  private static final Set<String> ELEMENTWISE =
      Set.of(
          "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu", "Neg",
          "Abs", "Exp", "Sqrt", "Softplus", "Elu", "Selu", "Mish", "Clip", "PRelu", "Add", "Sub",
          "Mul", "Div");

  /**
   * Inputs of an element-wise op up to this many values that outlive a run keep their permuted view
   * (constants such as a per-channel slope; a large array could be a snapshot's tensor, which a kept
   * view would hold on to).
   */
  private static final long KEPT_MAX_LENGTH = 1 << 16;

  /**
   * Whether {@code x} is a channels-last 4-D tensor, and not also a c-ordered one (where sizes of 1
   * make both true, it counts as c-ordered).
   */
  public static boolean is(INDArray x) {
    if (x == null || x.rank() != 4 || x.isEmpty()) {
      return false;
    }
    long[] s = x.shape();
    long[] st = x.stride();
    return x.offset() == 0
        && x.data().offset() == 0
        && x.data().length() == x.length()
        && !dense(s, st, 0, 1, 2, 3)
        && dense(s, st, 0, 2, 3, 1);
  }

  /**
   * Whether strides {@code st} lay out shape {@code s} densely with its dimensions in memory in
   * the order {@code dims} (outermost first); dimensions of size 1 may have any stride.
   */
  private static boolean dense(long[] s, long[] st, int... dims) {
    long step = 1;
    for (int i = dims.length - 1; i >= 0; i--) {
      int d = dims[i];
      if (s[d] != 1 && st[d] != step) {
        return false;
      }
      step *= s[d];
    }
    return true;
  }

  /**
   * {@code x}, or for a channels-last one its NHWC array: the same values with c-ordered strides,
   * for element-wise work in place or over the buffer, where the order does not matter.
   */
  public static INDArray inMemoryOrder(INDArray x) {
    return is(x) ? storage(x) : x;
  }

  /** The c-ordered {@code [N, H, W, C]} array behind channels-last {@code x} (a view). */
  public static INDArray storage(INDArray x) {
    return x.permute(0, 2, 3, 1);
  }

  /** The {@code [N, C, H, W]} channels-last view of c-ordered {@code [N, H, W, C]} {@code nhwc}. */
  public static INDArray view(INDArray nhwc) {
    return nhwc.permute(0, 3, 1, 2);
  }

  /** {@code x} when channels-last, else its values copied into a channels-last tensor. */
  public static INDArray of(INDArray x) {
    return is(x) ? x : view(storage(x).dup('c'));
  }

  /**
   * The op of a node of type {@code opType} for a channels-last plan: a Conv writing channels-last
   * outputs (2-D convolutions; others as before), an {@link #ELEMENTWISE} op that keeps the layout
   * ({@link #elementwise}), any other {@code op} as it is.
   */
  public static Op adapt(String opType, Op op) {
    if (op instanceof Conv c) {
      return c.channelsLast();
    }
    return ELEMENTWISE.contains(opType) ? elementwise(op) : op;
  }

  /**
   * {@code op}, an {@link #ELEMENTWISE} op, run on the NHWC arrays when one of its inputs is
   * channels-last (and none has more than 4 dimensions): every input of more than one value is
   * brought to rank 4 (leading ones, as
   * broadcasting aligns it) and permuted like the channels-last one, the op runs on those, and its
   * 4-D result comes back as a channels-last view. Otherwise {@code op} as it is.
   */
  public static Op elementwise(Op op) {
    // per input: {source, its lifted and permuted view} for arrays that outlive a run (constants):
    // the same view every run, so ops that cache by the identity of an input (PRelu's slope) hit
    java.util.concurrent.atomic.AtomicReferenceArray<INDArray[]> kept =
        new java.util.concurrent.atomic.AtomicReferenceArray<>(8);
    return in -> {
      boolean any = false;
      for (INDArray a : in) {
        if (a != null && a.rank() > 4) {
          return op.run(in); // beyond NCHW: as the op runs alone
        }
        any |= is(a);
      }
      if (!any) {
        return op.run(in);
      }
      INDArray[] p = new INDArray[in.length];
      for (int i = 0; i < in.length; i++) {
        INDArray a = in[i];
        if (a == null || a.length() == 1) {
          p[i] = a;
          continue;
        }
        INDArray[] k = i < kept.length() ? kept.get(i) : null;
        if (k != null && k[0] == a) {
          p[i] = k[1];
          continue;
        }
        INDArray a4 = a;
        if (a.rank() < 4) {
          long[] s4 = {1, 1, 1, 1};
          System.arraycopy(a.shape(), 0, s4, 4 - a.rank(), a.rank());
          a4 = a.reshape(s4);
        }
        p[i] = storage(a4);
        if (!a.isAttached() && a.length() <= KEPT_MAX_LENGTH && i < kept.length()) {
          kept.set(i, new INDArray[] {a, p[i]});
        }
      }
      // broadcasting a rank-4 input gives rank-4 outputs: back to [N, C, H, W]
      INDArray[] out = op.run(p);
      for (int i = 0; i < out.length; i++) {
        out[i] = out[i] == null ? null : view(out[i]);
      }
      return out;
    };
  }
}
