package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * AveragePool and MaxPool (all opsets), any spatial rank, as plain loops in double precision (1-D
 * and 2-D undilated float MaxPool without Indices runs on ND4J's native op instead): {@code
 * kernel_shape}, {@code strides}, {@code dilations}, explicit or automatic pads, {@code ceil_mode}
 * (a last window that would start in the end padding is dropped) and, for AveragePool, {@code
 * count_include_pad} (the divisor then counts the padding but not window taps beyond the end
 * padding that {@code ceil_mode} adds, as PyTorch and ONNX do). MaxPool keeps the input's element
 * type (uint8 and int8 too) and gives the optional Indices output: the flat index into the input of
 * each maximum (the first one on ties), spatial part in row-major or, for {@code storage_order} 1,
 * column-major order.
 */
final class Pool implements Op {
  private final OnnxNode node;
  private final Window window;
  private final boolean max;
  private final boolean ceil;
  private final boolean countPad;
  private final boolean columnMajor;
  private final boolean wantIndices;

  private Pool(OnnxNode node, boolean max) {
    this.node = node;
    this.max = max;
    this.window = new Window(node);
    if (window.kernel == null) {
      throw node.error("missing required attribute 'kernel_shape'");
    }
    this.ceil = node.attrInt("ceil_mode", 0) != 0;
    this.countPad = !max && node.attrInt("count_include_pad", 0) != 0;
    this.columnMajor = max && node.attrInt("storage_order", 0) != 0;
    this.wantIndices = max && node.outputs().size() > 1 && !node.outputs().get(1).isEmpty();
  }

  static Pool average(OnnxNode node, int opset) {
    return new Pool(node, false);
  }

  static Pool max(OnnxNode node, int opset) {
    return new Pool(node, true);
  }

  @Override
  public INDArray[] run(INDArray[] inputs) {
    INDArray x = inputs[0];
    if (x.rank() < 3) {
      throw node.error(
          "input X has shape " + Arrays.toString(x.shape()) + ", expected [N, C, spatial...]");
    }
    if (!max && !x.dataType().isFPType()) {
      throw node.error("input X has element type " + x.dataType() + ", expected a float type");
    }
    long[] in = Window.spatial(x.shape());
    Window.Geometry g = window.geometry(in, null, ceil);
    int nd = in.length;
    if (max
        && !wantIndices
        && nd <= 2
        && (x.dataType() == DataType.FLOAT || x.dataType() == DataType.DOUBLE)
        && Window.product(g.dilations()) == 1) {
      return new INDArray[] {nativeMax(x, g)};
    }
    int channels = (int) (x.size(0) * x.size(1));
    int inSize = (int) Window.product(in);
    int outSize = (int) Window.product(g.out());
    int kernelSize = (int) Window.product(g.kernel());
    int[][] windows = windows(in, g);
    int[] padCounts = countPad ? paddedCounts(in, g) : null;
    double[] xd = NnArrays.doubles(x);
    double[] y = new double[channels * outSize];
    long[] idx = wantIndices ? new long[channels * outSize] : null;
    int[] colMajor = columnMajor && wantIndices ? columnMajorIndex(in) : null;
    IntStream range = IntStream.range(0, channels);
    if ((long) channels * outSize * kernelSize > (1 << 16)) {
      range = range.parallel();
    }
    range.forEach(
        ch -> {
          int base = ch * inSize;
          int obase = ch * outSize;
          for (int o = 0; o < outSize; o++) {
            int[] win = windows[o];
            if (max) {
              double best = 0;
              int arg = -1;
              for (int off : win) {
                double v = xd[base + off];
                if (arg < 0 || v > best) {
                  best = v;
                  arg = off;
                }
              }
              y[obase + o] = best;
              if (idx != null) {
                idx[obase + o] =
                    arg < 0 ? -1 : (long) base + (colMajor == null ? arg : colMajor[arg]);
              }
            } else {
              double sum = 0;
              for (int off : win) {
                sum += xd[base + off];
              }
              y[obase + o] = sum / (countPad ? padCounts[o] : win.length);
            }
          }
        });
    long[] shape = new long[nd + 2];
    shape[0] = x.size(0);
    shape[1] = x.size(1);
    System.arraycopy(g.out(), 0, shape, 2, nd);
    INDArray result = NnArrays.fromDoubles(y, shape, x.dataType());
    if (idx == null) {
      return new INDArray[] {result};
    }
    return new INDArray[] {result, NnArrays.fromLongs(idx, shape)};
  }

  /**
   * 1-D and 2-D undilated MaxPool on ND4J's native {@code maxpool2d} (which pads with -inf);
   * asymmetric padding, and the end padding ceil_mode adds, are applied to the input as -inf.
   */
  private static INDArray nativeMax(INDArray x, Window.Geometry g) {
    boolean oneD = g.rank() == 1;
    long n = x.size(0);
    long c = x.size(1);
    long[] k = oneD ? new long[] {1, g.kernel()[0]} : g.kernel();
    long[] s = oneD ? new long[] {1, g.strides()[0]} : g.strides();
    long[] p = oneD ? new long[] {0, g.pads()[0], 0, g.pads()[1]} : g.pads();
    long[] out = oneD ? new long[] {1, g.out()[0]} : g.out();
    INDArray x4 = oneD ? x.reshape('c', n, c, 1, x.size(2)) : x;
    long[] in = {x4.size(2), x4.size(3)};
    boolean symmetric = true;
    long[] after = new long[2];
    for (int i = 0; i < 2; i++) {
      after[i] = Math.max(0, (out[i] - 1) * s[i] + k[i] - in[i] - p[i]);
      symmetric &= p[i] == p[i + 2] && (in[i] + 2 * p[i] - k[i]) / s[i] + 1 == out[i];
    }
    long ph = p[0];
    long pw = p[1];
    if (!symmetric) {
      x4 = NnArrays.padSpatial(x4, new long[] {p[0], p[1]}, after, Double.NEGATIVE_INFINITY);
      ph = 0;
      pw = 0;
    }
    if (!oneD && symmetric && ChannelsLast.is(x)) {
      // on the NHWC array behind the view, the result channels-last too
      INDArray y = Nd4j.createUninitialized(x.dataType(), n, out[0], out[1], c);
      Nd4j.exec(
          DynamicCustomOp.builder("maxpool2d")
              .addInputs(ChannelsLast.storage(x))
              .addOutputs(y)
              .addIntegerArguments(
                  (int) k[0], (int) k[1], (int) s[0], (int) s[1], (int) ph, (int) pw, 1, 1, 0, 0, 1)
              .build());
      return ChannelsLast.view(y);
    }
    INDArray y = Nd4j.createUninitialized(x.dataType(), n, c, out[0], out[1]);
    Nd4j.exec(
        DynamicCustomOp.builder("maxpool2d")
            .addInputs(x4)
            .addOutputs(y)
            .addIntegerArguments(
                (int) k[0], (int) k[1], (int) s[0], (int) s[1], (int) ph, (int) pw, 1, 1, 0, 0, 0)
            .build());
    return oneD ? y.reshape('c', n, c, out[1]) : y;
  }

  /** For each output position, the flat spatial input offsets its window covers (c order). */
  private static int[][] windows(long[] in, Window.Geometry g) {
    int nd = in.length;
    long[] out = g.out();
    // coords[a][o]: the valid input coordinates along dim a for output index o
    int[][][] coords = new int[nd][][];
    for (int a = 0; a < nd; a++) {
      coords[a] = new int[(int) out[a]][];
      for (int o = 0; o < out[a]; o++) {
        int[] buf = new int[(int) g.kernel()[a]];
        int cnt = 0;
        for (int j = 0; j < g.kernel()[a]; j++) {
          long c = o * g.strides()[a] - g.pads()[a] + j * g.dilations()[a];
          if (c >= 0 && c < in[a]) {
            buf[cnt++] = (int) c;
          }
        }
        coords[a][o] = Arrays.copyOf(buf, cnt);
      }
    }
    int outSize = (int) Window.product(out);
    int[][] result = new int[outSize][];
    int[] pos = new int[nd];
    for (int o = 0; o < outSize; o++) {
      int n = 1;
      for (int a = 0; a < nd; a++) {
        n *= coords[a][pos[a]].length;
      }
      int[] offs = new int[n];
      int[] tap = new int[nd];
      long[] lens = new long[nd];
      for (int a = 0; a < nd; a++) {
        lens[a] = coords[a][pos[a]].length;
      }
      for (int t = 0; t < n; t++) {
        int flat = 0;
        for (int a = 0; a < nd; a++) {
          flat = (int) (flat * in[a] + coords[a][pos[a]][tap[a]]);
        }
        offs[t] = flat;
        Conv.increment(tap, lens);
      }
      result[o] = offs;
      Conv.increment(pos, out);
    }
    return result;
  }

  /**
   * For each output position, how many window taps fall inside the explicitly padded input
   * (count_include_pad's divisor).
   */
  private static int[] paddedCounts(long[] in, Window.Geometry g) {
    int nd = in.length;
    long[] out = g.out();
    int[][] perDim = new int[nd][];
    for (int a = 0; a < nd; a++) {
      perDim[a] = new int[(int) out[a]];
      for (int o = 0; o < out[a]; o++) {
        int cnt = 0;
        for (int j = 0; j < g.kernel()[a]; j++) {
          long c = o * g.strides()[a] - g.pads()[a] + j * g.dilations()[a];
          if (c < in[a] + g.pads()[a + nd]) {
            cnt++;
          }
        }
        perDim[a][o] = cnt;
      }
    }
    int outSize = (int) Window.product(out);
    int[] result = new int[outSize];
    int[] pos = new int[nd];
    for (int o = 0; o < outSize; o++) {
      int n = 1;
      for (int a = 0; a < nd; a++) {
        n *= perDim[a][pos[a]];
      }
      result[o] = n;
      Conv.increment(pos, out);
    }
    return result;
  }

  /** Maps each row-major flat spatial index to its column-major one. */
  private static int[] columnMajorIndex(long[] in) {
    int nd = in.length;
    int size = (int) Window.product(in);
    int[] result = new int[size];
    int[] pos = new int[nd];
    for (int i = 0; i < size; i++) {
      int flat = 0;
      for (int a = nd - 1; a >= 0; a--) {
        flat = (int) (flat * in[a] + pos[a]);
      }
      result[i] = flat;
      Conv.increment(pos, in);
    }
    return result;
  }
}
