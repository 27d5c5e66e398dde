package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * ConvTranspose (opsets 1, 11, 22), any spatial rank: per image and group, a matrix product of the
 * transposed weights with the input gives every (output channel, kernel tap, input position)
 * contribution, which col2im adds into the output. Computed in double precision.
 *
 * <p>Output size: {@code output_shape} when set (pads then follow from it: {@code total = stride *
 * (in - 1) + output_padding + dilated_kernel - out}, the odd element at the end for SAME_UPPER, at
 * the start otherwise), else {@code in * stride} for SAME_UPPER/SAME_LOWER, else {@code stride *
 * (in - 1) + output_padding + dilated_kernel - pad_begin - pad_end}.
 */
final class ConvTranspose implements Op {
  private final OnnxNode node;
  private final Window window;
  private final int group;
  private final long[] outputPadding;
  private final long[] outputShape;

  ConvTranspose(OnnxNode node, int opset) {
    this.node = node;
    this.window = new Window(node);
    long g = node.attrInt("group", 1);
    if (g < 1) {
      throw node.error("attribute 'group' is " + g + ", expected at least 1");
    }
    this.group = (int) g;
    this.outputPadding = node.attrInts("output_padding").orElse(null);
    this.outputShape = node.attrInts("output_shape").orElse(null);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    INDArray w = in[1];
    INDArray b = in.length > 2 ? in[2] : null;
    if (x.rank() < 3 || w.rank() != x.rank()) {
      throw node.error(
          "input X "
              + Arrays.toString(x.shape())
              + " and weights W "
              + Arrays.toString(w.shape())
              + " must both be [N, C, spatial...] / [C, M/group, kernel...] of the same rank");
    }
    if (!x.dataType().isFPType()) {
      throw node.error("input X has element type " + x.dataType() + ", expected a float type");
    }
    int nd = x.rank() - 2;
    int n = (int) x.size(0);
    int c = (int) x.size(1);
    if (w.size(0) != c || c % group != 0) {
      throw node.error(
          "input X has "
              + c
              + " channels but weights W "
              + Arrays.toString(w.shape())
              + " with group "
              + group
              + " expect "
              + w.size(0));
    }
    int cg = c / group;
    int mg = (int) w.size(1);
    int m = mg * group;
    if (b != null && b.length() != m) {
      throw node.error("bias B has shape " + Arrays.toString(b.shape()) + ", expected [" + m + "]");
    }
    long[] inSp = Window.spatial(x.shape());
    long[] k = window.kernel(Window.spatial(w.shape()), nd);
    if (!Arrays.equals(k, Window.spatial(w.shape()))) {
      throw node.error(
          "kernel_shape "
              + Arrays.toString(k)
              + " does not match the weights' spatial shape "
              + Arrays.toString(w.shape()));
    }
    long[] s = window.strides(nd);
    long[] d = window.dilations(nd);
    long[] op = outputPadding == null ? new long[nd] : outputPadding;
    if (op.length != nd) {
      throw node.error(
          "attribute 'output_padding' " + Arrays.toString(op) + " needs " + nd + " values");
    }
    long[] pads = window.pads(nd);
    long[] out = new long[nd];
    long[] shapeAttr = outputShape;
    if (shapeAttr != null && shapeAttr.length == nd + 2) {
      shapeAttr = Arrays.copyOfRange(shapeAttr, 2, nd + 2); // some writers include N and C
    }
    if (shapeAttr != null && shapeAttr.length != nd) {
      throw node.error(
          "attribute 'output_shape' " + Arrays.toString(outputShape) + " needs " + nd + " values");
    }
    boolean same =
        window.autoPad == Window.AutoPad.SAME_UPPER || window.autoPad == Window.AutoPad.SAME_LOWER;
    for (int i = 0; i < nd; i++) {
      long eff = (k[i] - 1) * d[i] + 1;
      long full = s[i] * (inSp[i] - 1) + op[i] + eff;
      if (shapeAttr != null || same) {
        out[i] = shapeAttr != null ? shapeAttr[i] : inSp[i] * s[i];
        long total = full - out[i];
        long half = Math.floorDiv(total, 2);
        if (window.autoPad == Window.AutoPad.SAME_UPPER) {
          pads[i] = half;
          pads[i + nd] = total - half;
        } else {
          pads[i] = total - half;
          pads[i + nd] = half;
        }
      } else {
        if (window.autoPad == Window.AutoPad.VALID) {
          pads[i] = 0;
          pads[i + nd] = 0;
        }
        out[i] = full - pads[i] - pads[i + nd];
      }
      if (out[i] < 1) {
        throw node.error("output size " + Arrays.toString(out) + " is not positive");
      }
    }

    int kk = (int) Window.product(k);
    int inSize = (int) Window.product(inSp);
    int outSize = (int) Window.product(out);
    int[] targets = targets(inSp, out, k, s, d, pads);
    INDArray xd = x.castTo(DataType.DOUBLE).reshape('c', n, c, inSize);
    INDArray wd = w.castTo(DataType.DOUBLE).reshape('c', c, (long) mg * kk);
    double[] bias = b == null ? null : NnArrays.doubles(b);
    double[] y = new double[n * m * outSize];
    for (int grp = 0; grp < group; grp++) {
      INDArray wgT =
          wd.get(NDArrayIndex.interval(grp * cg, (grp + 1) * cg), NDArrayIndex.all()).transpose();
      for (int img = 0; img < n; img++) {
        INDArray xg =
            xd.get(
                NDArrayIndex.point(img),
                NDArrayIndex.interval(grp * cg, (grp + 1) * cg),
                NDArrayIndex.all());
        // cols[(mi * kk + t) * inSize + i]: what input position i adds through tap t to channel mi
        double[] cols = wgT.mmul(xg).dup('c').data().asDouble();
        for (int mi = 0; mi < mg; mi++) {
          int base = (img * m + grp * mg + mi) * outSize;
          for (int t = 0; t < kk; t++) {
            int row = (mi * kk + t) * inSize;
            int toff = t * inSize;
            for (int i = 0; i < inSize; i++) {
              int dst = targets[toff + i];
              if (dst >= 0) {
                y[base + dst] += cols[row + i];
              }
            }
          }
          if (bias != null) {
            double add = bias[grp * mg + mi];
            for (int o = 0; o < outSize; o++) {
              y[base + o] += add;
            }
          }
        }
      }
    }
    long[] shape = new long[nd + 2];
    shape[0] = n;
    shape[1] = m;
    System.arraycopy(out, 0, shape, 2, nd);
    return new INDArray[] {NnArrays.fromDoubles(y, shape, x.dataType())};
  }

  /**
   * For each kernel tap and input position, the flat output index it adds to ({@code -1} when it
   * falls outside the output): {@code result[tap * prod(in) + i]}.
   */
  private static int[] targets(long[] in, long[] out, long[] k, long[] s, long[] d, long[] pads) {
    int nd = in.length;
    int inSize = (int) Window.product(in);
    int kk = (int) Window.product(k);
    int[] result = new int[kk * inSize];
    int[] tap = new int[nd];
    int[] pos = new int[nd];
    for (int t = 0; t < kk; t++) {
      Arrays.fill(pos, 0);
      for (int i = 0; i < inSize; i++) {
        int flat = 0;
        boolean inside = true;
        for (int a = 0; a < nd; a++) {
          long coord = pos[a] * s[a] + tap[a] * d[a] - pads[a];
          if (coord < 0 || coord >= out[a]) {
            inside = false;
            break;
          }
          flat = (int) (flat * out[a] + coord);
        }
        result[t * inSize + i] = inside ? flat : -1;
        Conv.increment(pos, in);
      }
      Conv.increment(tap, k);
    }
    return result;
  }
}
