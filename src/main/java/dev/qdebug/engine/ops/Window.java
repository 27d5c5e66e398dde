package dev.qdebug.engine.ops;

import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;

/**
 * The sliding-window attributes shared by Conv, ConvTranspose, AveragePool and MaxPool ({@code
 * kernel_shape}, {@code strides}, {@code dilations}, {@code pads}, {@code auto_pad}), and the
 * output size and padding they give for an input. Pads are ONNX-ordered: all begins, then all ends.
 */
final class Window {
  enum AutoPad {
    NOTSET,
    SAME_UPPER,
    SAME_LOWER,
    VALID
  }

  final OnnxNode node;
  final AutoPad autoPad;

  /** {@code kernel_shape}, or null to take it from the weights. */
  final long[] kernel;

  private final long[] strides;
  private final long[] dilations;
  private final long[] pads;

  Window(OnnxNode node) {
    this.node = node;
    String ap = node.attrString("auto_pad", "NOTSET");
    try {
      autoPad = AutoPad.valueOf(ap.isEmpty() ? "NOTSET" : ap);
    } catch (IllegalArgumentException e) {
      throw node.error(
          "attribute 'auto_pad' is '" + ap + "', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID");
    }
    kernel = node.attrInts("kernel_shape").orElse(null);
    strides = node.attrInts("strides").orElse(null);
    dilations = node.attrInts("dilations").orElse(null);
    pads = node.attrInts("pads").orElse(null);
    checkPositive("kernel_shape", kernel);
    checkPositive("strides", strides);
    checkPositive("dilations", dilations);
    if (pads != null) {
      if (pads.length % 2 != 0) {
        throw node.error(
            "attribute 'pads' has " + pads.length + " values, expected an even number");
      }
      for (long p : pads) {
        if (p < 0) {
          throw node.error("attribute 'pads' " + Arrays.toString(pads) + " has a negative value");
        }
      }
    }
  }

  private void checkPositive(String attr, long[] v) {
    if (v == null) {
      return;
    }
    for (long x : v) {
      if (x < 1) {
        throw node.error("attribute '" + attr + "' " + Arrays.toString(v) + " must be positive");
      }
    }
  }

  /** Whether the node sets {@code pads} explicitly. */
  boolean hasPads() {
    return pads != null;
  }

  /** The kernel size: {@code kernel_shape}, else {@code fromWeights} (spatial dims only). */
  long[] kernel(long[] fromWeights, int nd) {
    long[] k = kernel != null ? kernel : fromWeights;
    if (k == null) {
      throw node.error("missing required attribute 'kernel_shape'");
    }
    check("kernel_shape", k, nd);
    return k;
  }

  long[] strides(int nd) {
    return orOnes("strides", strides, nd);
  }

  long[] dilations(int nd) {
    return orOnes("dilations", dilations, nd);
  }

  /** Explicit pads (begins then ends), zeros when not set. */
  long[] pads(int nd) {
    if (pads == null) {
      return new long[2 * nd];
    }
    if (pads.length != 2 * nd) {
      throw node.error(
          "attribute 'pads' has "
              + pads.length
              + " values, expected "
              + 2 * nd
              + " for "
              + nd
              + " spatial dimensions");
    }
    return pads.clone();
  }

  private long[] orOnes(String attr, long[] v, int nd) {
    if (v == null) {
      long[] ones = new long[nd];
      Arrays.fill(ones, 1);
      return ones;
    }
    check(attr, v, nd);
    return v;
  }

  private void check(String attr, long[] v, int nd) {
    if (v.length != nd) {
      throw node.error(
          "attribute '"
              + attr
              + "' "
              + Arrays.toString(v)
              + " has "
              + v.length
              + " values, the input has "
              + nd
              + " spatial dimensions");
    }
  }

  /** Output size and the padding (begins then ends) a convolution or pool uses. */
  record Geometry(long[] kernel, long[] strides, long[] dilations, long[] pads, long[] out) {
    int rank() {
      return kernel.length;
    }

    boolean symmetric() {
      int nd = kernel.length;
      for (int i = 0; i < nd; i++) {
        if (pads[i] != pads[i + nd]) {
          return false;
        }
      }
      return true;
    }
  }

  /**
   * The geometry of a convolution or pool over spatial input size {@code in}.
   *
   * @param kernelFromWeights kernel size when the node has no {@code kernel_shape} (Conv), or null
   * @param ceil pooling's {@code ceil_mode}: the last window may hang over the end padding, as long
   *     as it starts inside the input or the begin padding
   */
  Geometry geometry(long[] in, long[] kernelFromWeights, boolean ceil) {
    int nd = in.length;
    long[] k = kernel(kernelFromWeights, nd);
    long[] s = strides(nd);
    long[] d = dilations(nd);
    long[] p = pads(nd);
    long[] out = new long[nd];
    for (int i = 0; i < nd; i++) {
      long eff = (k[i] - 1) * d[i] + 1;
      switch (autoPad) {
        case SAME_UPPER, SAME_LOWER -> {
          out[i] = Math.floorDiv(in[i] + s[i] - 1, s[i]);
          long total = Math.max(0, (out[i] - 1) * s[i] + eff - in[i]);
          long small = total / 2;
          p[i] = autoPad == AutoPad.SAME_UPPER ? small : total - small;
          p[i + nd] = total - p[i];
        }
        default -> {
          if (autoPad == AutoPad.VALID) {
            p[i] = 0;
            p[i + nd] = 0;
          }
          long span = in[i] + p[i] + p[i + nd] - eff;
          if (span < 0) {
            throw node.error(
                "spatial input size "
                    + Arrays.toString(in)
                    + " with pads "
                    + Arrays.toString(p)
                    + " is smaller than the (dilated) kernel "
                    + Arrays.toString(k));
          }
          out[i] = (ceil ? Math.floorDiv(span + s[i] - 1, s[i]) : span / s[i]) + 1;
          if (ceil && (out[i] - 1) * s[i] >= in[i] + p[i]) {
            out[i]--; // the last window would start in the end padding
          }
        }
      }
    }
    return new Geometry(k, s, d, p, out);
  }

  /** The spatial dims of {@code shape} (everything after batch and channel). */
  static long[] spatial(long[] shape) {
    return Arrays.copyOfRange(shape, 2, shape.length);
  }

  static long product(long[] v) {
    long n = 1;
    for (long x : v) {
      n *= x;
    }
    return n;
  }
}
