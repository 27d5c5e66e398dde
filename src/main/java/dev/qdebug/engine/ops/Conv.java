package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.engine.Workspaces;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Conv (opsets 1, 11, 22): 1-D and 2-D convolutions run on ND4J's native {@code conv2d} (oneDNN),
 * except ungrouped 1x1 ones over many positions (one matrix product per sample), depthwise ones
 * ({@code group} = input channels) on {@code depthwise_conv2d}, other groupings as
 * one native convolution per group; dilated ones by space-to-batch (this ND4J build's oneDNN
 * rejects dilation); 3-D and higher as im2col and a matrix product.
 *
 * <p>ND4J wants the weights as {@code [kH, kW, inC, outC]}. They arrive as an input on every run (a
 * hook may replace them), so the permuted copy is cached for the identity of the weight array it
 * came from and rebuilt only when a different array arrives. ND4J pads symmetrically: asymmetric
 * padding is applied to the input first.
 *
 * <p>In a plan that keeps convolution outputs channels-last ({@link ChannelsLast}, {@link
 * #channelsLast()}), 2-D outputs are written NHWC behind an NCHW view: 1x1 convolutions as one
 * matrix product over the batch (or one per sample reading an NCHW input transposed), depthwise
 * and ungrouped ones on oneDNN in NHWC, which spares the re-layouts around each NCHW call.
 */
final class Conv implements Op {
  private final OnnxNode node;
  private final Window window;
  private final int group;
  /** Whether 2-D outputs are written channels-last ({@link ChannelsLast}). */
  private final boolean channelsLast;
  /** The oneDNN path of a channels-last convolution ({@link Dnnl}), null without one. */
  private final Dnnl.Convolution dnnl;
  /** The activation fused into this convolution's output, null for none ({@link #with}). */
  private final Dnnl.PostOp post;
  private volatile Prepared cache;

  /** Weights in ND4J layout, one per native call, for the weight array {@code source}. */
  private record Prepared(INDArray source, INDArray[] weights) {}

  Conv(OnnxNode node, int opset) {
    this.node = node;
    this.window = new Window(node);
    long g = node.attrInt("group", 1);
    if (g < 1) {
      throw node.error("attribute 'group' is " + g + ", expected at least 1");
    }
    this.group = (int) g;
    this.channelsLast = false;
    this.dnnl = null;
    this.post = null;
  }

  private Conv(Conv c, Dnnl.PostOp post) {
    this.node = c.node;
    this.window = c.window;
    this.group = c.group;
    this.channelsLast = true;
    this.post = post;
    if (post != null) {
      this.dnnl = c.dnnl.with(post);
    } else {
      this.dnnl = Dnnl.enabled() ? new Dnnl.Convolution() : null;
    }
  }

  /** This convolution writing its 2-D outputs channels-last ({@link ChannelsLast}). */
  Conv channelsLast() {
    return channelsLast ? this : new Conv(this, null);
  }

  /**
   * This convolution with its output added to a residual tensor of its shape and then {@code act}
   * (null: none) applied, by oneDNN's sum and eltwise post-ops ({@link #runSum}); null where it has
   * no oneDNN path.
   */
  Conv withSum(Dnnl.PostOp act) {
    return dnnl == null || this.post != null ? null : new Conv(this, Dnnl.PostOp.sum(act));
  }

  /**
   * For a {@link #withSum} convolution: {@code conv(in) + residual}, activated, channels-last; null
   * where oneDNN does not run it (the caller runs the unfused ops).
   */
  INDArray runSum(INDArray[] in, INDArray residual) {
    INDArray x = in[0];
    INDArray w = in[1];
    INDArray b = in.length > 2 ? in[2] : null;
    check(x, w, b);
    if (!onDnnl(x, w, b)) {
      return null;
    }
    Window.Geometry g =
        window.geometry(Window.spatial(x.shape()), Window.spatial(w.shape()), false);
    if (!Arrays.equals(g.kernel(), Window.spatial(w.shape()))) {
      return null; // the unfused convolution reports it
    }
    return dnnl.run(x, w, b, g, group, residual);
  }

  /** Whether oneDNN runs this convolution: it has the path, a non-empty float 2-D one. */
  private boolean onDnnl(INDArray x, INDArray w, INDArray b) {
    return dnnl != null && x.rank() == 4 && x.dataType() == DataType.FLOAT
        && w.dataType() == DataType.FLOAT && (b == null || b.dataType() == DataType.FLOAT)
        && !x.isEmpty() && x.size(1) > 0 && w.length() > 0;
  }

  /** How many weight arrays its oneDNN path re-laid out and kept; -1 without one (tests). */
  long dnnlPacks() {
    return dnnl == null ? -1 : dnnl.packs();
  }

  /**
   * This convolution with {@code post} (the activation after it) applied to its output by oneDNN,
   * without a second pass over it. Null where this convolution has no oneDNN path (not
   * channels-last, or oneDNN off).
   */
  Conv with(Dnnl.PostOp post) {
    return dnnl == null || this.post != null ? null : new Conv(this, post);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    INDArray w = in[1];
    INDArray b = in.length > 2 ? in[2] : null;
    check(x, w, b);
    int nd = x.rank() - 2;
    Window.Geometry g =
        window.geometry(Window.spatial(x.shape()), Window.spatial(w.shape()), false);
    if (!Arrays.equals(g.kernel(), Window.spatial(w.shape()))) {
      throw node.error(
          "kernel_shape "
              + Arrays.toString(g.kernel())
              + " does not match the weights' spatial shape "
              + Arrays.toString(w.shape()));
    }
    if (b != null && b.dataType() != x.dataType()) {
      b = b.castTo(x.dataType());
    }
    if (onDnnl(x, w, b)) {
      INDArray y = dnnl.run(x, w, b, g, group); // with the post-op, if any
      if (y != null) {
        return new INDArray[] {y};
      }
    }
    INDArray y = nd == 1 || nd == 2 ? native2d(x, w, b, g) : im2col(x, w, b, g, group);
    if (post != null) {
      post.applyInPlace(y); // a fresh array: every path above writes a new one
    }
    return new INDArray[] {y};
  }

  private void check(INDArray x, INDArray w, INDArray b) {
    if (x.rank() < 3) {
      throw node.error(
          "input X has shape " + Arrays.toString(x.shape()) + ", expected [N, C, spatial...]");
    }
    if (w.rank() != x.rank()) {
      throw node.error(
          "weights W have shape "
              + Arrays.toString(w.shape())
              + ", expected rank "
              + x.rank()
              + " like input X "
              + Arrays.toString(x.shape()));
    }
    if (!x.dataType().isFPType()) {
      throw node.error("input X has element type " + x.dataType() + ", expected a float type");
    }
    long c = x.size(1);
    long m = w.size(0);
    if (w.size(1) * group != c) {
      throw node.error(
          "input X has "
              + c
              + " channels but weights W "
              + Arrays.toString(w.shape())
              + " with group "
              + group
              + " expect "
              + w.size(1) * group);
    }
    if (m % group != 0) {
      throw node.error(m + " output channels cannot be split into " + group + " groups");
    }
    if (b != null && (b.length() != m || b.rank() != 1)) {
      throw node.error("bias B has shape " + Arrays.toString(b.shape()) + ", expected [" + m + "]");
    }
  }

  /** 1-D (as 2-D with height 1) and 2-D convolution on ND4J's native ops. */
  private INDArray native2d(INDArray x, INDArray w, INDArray b, Window.Geometry g) {
    return channelsLast && g.rank() == 2 ? channelsLast2d(x, w, b, g) : nchw2d(x, w, b, g);
  }

  /** {@link #native2d} with an NCHW output. */
  private INDArray nchw2d(INDArray x, INDArray w, INDArray b, Window.Geometry g) {
    boolean oneD = g.rank() == 1;
    long n = x.size(0);
    long c = x.size(1);
    long m = w.size(0);
    long[] k = oneD ? new long[] {1, g.kernel()[0]} : g.kernel();
    long[] s = oneD ? new long[] {1, g.strides()[0]} : g.strides();
    long[] d = oneD ? new long[] {1, g.dilations()[0]} : g.dilations();
    long[] p = oneD ? new long[] {0, g.pads()[0], 0, g.pads()[1]} : g.pads();
    long[] out = oneD ? new long[] {1, g.out()[0]} : g.out();
    if (pointwise(x, k, s, p)) {
      INDArray y = pointwise(x, w, b);
      return oneD ? y.reshape('c', n, m, out[1]) : y;
    }
    if (oneD) {
      x = x.reshape('c', n, c, 1, x.size(2));
    }
    INDArray[] ws = prepared(w, oneD);
    INDArray y;
    if (d[0] > 1 || d[1] > 1) {
      y = dilated(x, ws, b, k, s, d, p, out);
    } else {
      long ph = Math.min(p[0], p[2]);
      long pw = Math.min(p[1], p[3]);
      if (p[0] != p[2] || p[1] != p[3]) {
        x =
            NnArrays.padSpatial(
                x, new long[] {p[0] - ph, p[1] - pw}, new long[] {p[2] - ph, p[3] - pw});
      }
      y = convolve(x, ws, b, k, s, ph, pw, out);
    }
    return oneD ? y.reshape('c', n, m, out[1]) : y;
  }

  /**
   * A 2-D convolution with a channels-last output: ungrouped 1x1 ones (stride 1, unpadded) as matrix
   * products ({@link #pointwiseChannelsLast}), depthwise and ungrouped ones with symmetric pads and
   * no dilation on oneDNN in NHWC (the input made channels-last first where it is not); the others
   * as before, their output copied channels-last.
   */
  private INDArray channelsLast2d(INDArray x, INDArray w, INDArray b, Window.Geometry g) {
    long[] k = g.kernel();
    long[] s = g.strides();
    long[] p = g.pads();
    long[] out = g.out();
    boolean floats = x.dataType() == DataType.FLOAT || x.dataType() == DataType.DOUBLE;
    boolean undilated = g.dilations()[0] == 1 && g.dilations()[1] == 1;
    boolean symmetric = p[0] == p[2] && p[1] == p[3];
    boolean depthwise = group > 1 && group == x.size(1);
    if (!floats || !undilated || !symmetric || x.isEmpty() || x.size(1) == 0
        || !(group == 1 || depthwise)) {
      return ChannelsLast.of(nchw2d(x, w, b, g));
    }
    boolean ones = k[0] == 1 && k[1] == 1 && s[0] == 1 && s[1] == 1 && p[0] == 0 && p[1] == 0;
    if (group == 1 && ones) {
      return pointwiseChannelsLast(x, w, b);
    }
    INDArray xs = ChannelsLast.storage(ChannelsLast.of(x));
    INDArray[] ws = prepared(w, false);
    int[] iargs = {
      (int) k[0], (int) k[1], (int) s[0], (int) s[1], (int) p[0], (int) p[1], 1, 1, 0, 1, 0
    };
    long[] nhwc = {x.size(0), out[0], out[1], w.size(0)};
    INDArray y = exec(depthwise ? "depthwise_conv2d" : "conv2d", xs, ws[0], b, nhwc, iargs);
    return ChannelsLast.view(y);
  }

  /**
   * An ungrouped 1x1 convolution of stride 1 without padding, written channels-last: {@code
   * Y[N*H*W, M] = X[N*H*W, C] W[M, C]^T}, one product over the whole batch when the input is
   * channels-last too, else one per sample reading its [C, H*W] matrix transposed; then the bias
   * along the last dimension.
   */
  private static INDArray pointwiseChannelsLast(INDArray x, INDArray w, INDArray b) {
    long n = x.size(0);
    long c = x.size(1);
    long positions = x.size(2) * x.size(3);
    long m = w.size(0);
    INDArray wm = matrix(w, x.dataType()); // read transposed by the products: no copy
    INDArray y = Nd4j.createUninitialized(x.dataType(), n, x.size(2), x.size(3), m);
    if (y.isEmpty()) {
      return ChannelsLast.view(y);
    }
    if (ChannelsLast.is(x)) {
      INDArray x2 = ChannelsLast.storage(x).reshape('c', n * positions, c);
      matmul(x2, wm, y.reshape('c', n * positions, m), 0, 1);
    } else {
      INDArray xs = FlatData.isPlain(x) ? x : x.dup('c');
      INDArray x3 = xs.reshape('c', n, c, positions);
      INDArray y3 = y.reshape('c', n, positions, m);
      for (long i = 0; i < n; i++) {
        matmul(x3.slice(i), wm, y3.slice(i), 1, 1);
      }
    }
    addBias(y, b, false);
    return ChannelsLast.view(y);
  }

  /**
   * Spatial positions per sample from which an ungrouped 1x1 convolution (stride 1, no padding)
   * runs as matrix products rather than oneDNN's convolution: 20x20. Measured on ResNet-50's 1x1
   * convolutions at batch 8 (2026-12-07, 2 cores): at 56x56 and 28x28 the products take 0.4-0.8x
   * of the convolution's time (it re-lays out input, weights and output around every call), at
   * 14x14 and 7x7 about as long, and fewer columns per product lose.
   */
  static final long POINTWISE_MIN_POSITIONS = 400;

  /** Whether this convolution runs as {@link #pointwise(INDArray, INDArray, INDArray)}. */
  private boolean pointwise(INDArray x, long[] k, long[] s, long[] p) {
    boolean ones = k[0] == 1 && k[1] == 1 && s[0] == 1 && s[1] == 1;
    boolean unpadded = p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0;
    long positions = 1;
    for (int d = 2; d < x.rank(); d++) {
      positions *= x.size(d);
    }
    return group == 1 && ones && unpadded && positions >= POINTWISE_MIN_POSITIONS
        && (x.dataType() == DataType.FLOAT || x.dataType() == DataType.DOUBLE);
  }

  /**
   * An ungrouped 1x1 convolution of stride 1 without padding: in NCHW each sample's input is a
   * [C, positions] matrix and its output the [M, positions] matrix {@code W[M, C]} times it, so
   * each sample is one product written in place into the output (no re-layout), then the bias.
   */
  private static INDArray pointwise(INDArray x, INDArray w, INDArray b) {
    long n = x.size(0);
    long c = x.size(1);
    long m = w.size(0);
    long positions = 1;
    for (int d = 2; d < x.rank(); d++) {
      positions *= x.size(d);
    }
    long[] shape = x.shape().clone();
    shape[1] = m;
    INDArray y = Nd4j.createUninitialized(x.dataType(), shape);
    if (y.isEmpty()) {
      return y;
    }
    if (c == 0) { // no input channel: the bias alone
      y.assign(0);
      return b == null ? y : y.addi(b.reshape(biasShape(m, x.rank())));
    }
    INDArray xs = FlatData.isPlain(x) ? x : x.dup('c');
    INDArray wm = matrix(w, x.dataType());
    INDArray x3 = xs.reshape('c', n, c, positions);
    INDArray y3 = y.reshape('c', n, m, positions);
    for (long i = 0; i < n; i++) {
      matmul(wm, x3.slice(i), y3.slice(i), 0, 0);
    }
    addBias(y, b, true);
    return y;
  }

  /** 1x1 weights {@code [M, C, 1, ...]} as the {@code [M, C]} matrix of {@code type}. */
  private static INDArray matrix(INDArray w, DataType type) {
    INDArray wm = w.reshape('c', w.size(0), w.size(1));
    return wm.dataType() == type ? wm : wm.castTo(type);
  }

  /** {@code out = op(a) op(b)}, {@code op} transposing where {@code transA} / {@code transB} is 1. */
  private static void matmul(INDArray a, INDArray b, INDArray out, int transA, int transB) {
    Nd4j.exec(
        DynamicCustomOp.builder("matmul")
            .addInputs(a, b)
            .addOutputs(out)
            .addIntegerArguments(transA, transB, 0)
            .build());
  }

  /** Adds bias {@code b} (none when null) in place along C: axis 1 when {@code nchw}, else last. */
  private static void addBias(INDArray y, INDArray b, boolean nchw) {
    if (b != null) {
      Nd4j.exec(
          DynamicCustomOp.builder("biasadd")
              .addInputs(y, b)
              .addOutputs(y)
              .addBooleanArguments(nchw)
              .build());
    }
  }

  /** [1, m, 1, ...] for a bias over an output of {@code rank} dimensions. */
  private static long[] biasShape(long m, int rank) {
    long[] s = new long[rank];
    java.util.Arrays.fill(s, 1);
    s[1] = m;
    return s;
  }

  /**
   * A dilated convolution as an undilated one over the input's {@code dH * dW} interleaved phases
   * stacked along the batch (space-to-batch; oneDNN in this ND4J build rejects dilated
   * convolutions), computed at stride 1 and subsampled for larger strides.
   */
  private INDArray dilated(
      INDArray x, INDArray[] ws, INDArray b, long[] k, long[] s, long[] d, long[] p, long[] out) {
    long n = x.size(0);
    long c = x.size(1);
    long hp = x.size(2) + p[0] + p[2];
    long wp = x.size(3) + p[1] + p[3];
    long hq = Math.floorDiv(hp + d[0] - 1, d[0]);
    long wq = Math.floorDiv(wp + d[1] - 1, d[1]);
    INDArray padded =
        NnArrays.padSpatial(
            x,
            new long[] {p[0], p[1]},
            new long[] {hq * d[0] - x.size(2) - p[0], wq * d[1] - x.size(3) - p[1]});
    INDArray phases =
        padded
            .reshape('c', n, c, hq, d[0], wq, d[1])
            .permute(3, 5, 0, 1, 2, 4)
            .dup('c')
            .reshape('c', d[0] * d[1] * n, c, hq, wq);
    long oqh = hq - k[0] + 1;
    long oqw = wq - k[1] + 1;
    INDArray yq = convolve(phases, ws, b, k, new long[] {1, 1}, 0, 0, new long[] {oqh, oqw});
    long m = yq.size(1);
    INDArray full =
        yq.reshape('c', d[0], d[1], n, m, oqh, oqw)
            .permute(2, 3, 4, 0, 5, 1)
            .dup('c')
            .reshape('c', n, m, oqh * d[0], oqw * d[1]);
    return full.get(
            NDArrayIndex.all(),
            NDArrayIndex.all(),
            NDArrayIndex.interval(0, s[0], (out[0] - 1) * s[0] + 1),
            NDArrayIndex.interval(0, s[1], (out[1] - 1) * s[1] + 1))
        .dup('c');
  }

  /** An undilated convolution with symmetric pads on ND4J's native ops. */
  private INDArray convolve(
      INDArray x, INDArray[] ws, INDArray b, long[] k, long[] s, long ph, long pw, long[] out) {
    long n = x.size(0);
    long c = x.size(1);
    int[] iargs = {
      (int) k[0], (int) k[1], (int) s[0], (int) s[1], (int) ph, (int) pw, 1, 1, 0, 0, 0
    };
    if (group == 1) {
      long m = ws[0].size(3);
      return exec("conv2d", x, ws[0], b, new long[] {n, m, out[0], out[1]}, iargs);
    }
    if (group == c) {
      long m = ws[0].size(2) * ws[0].size(3);
      return exec("depthwise_conv2d", x, ws[0], b, new long[] {n, m, out[0], out[1]}, iargs);
    }
    long cg = c / group;
    long mg = ws[0].size(3);
    INDArray[] parts = new INDArray[group];
    for (int i = 0; i < group; i++) {
      INDArray xg =
          x.get(
                  NDArrayIndex.all(),
                  NDArrayIndex.interval(i * cg, (i + 1) * cg),
                  NDArrayIndex.all(),
                  NDArrayIndex.all())
              .dup('c');
      INDArray bg = b == null ? null : b.get(NDArrayIndex.interval(i * mg, (i + 1) * mg));
      parts[i] = exec("conv2d", xg, ws[i], bg, new long[] {n, mg, out[0], out[1]}, iargs);
    }
    return Nd4j.concat(1, parts);
  }

  private static INDArray exec(
      String op, INDArray x, INDArray w, INDArray b, long[] outShape, int[] iargs) {
    INDArray y = Nd4j.createUninitialized(x.dataType(), outShape);
    DynamicCustomOp.DynamicCustomOpsBuilder builder =
        DynamicCustomOp.builder(op).addOutputs(y).addIntegerArguments(iargs);
    if (b == null) {
      builder.addInputs(x, w);
    } else {
      builder.addInputs(x, w, b);
    }
    Nd4j.exec(builder.build());
    return y;
  }

  /** The weights in ND4J layout for {@code w}, from the cache when {@code w} is the same array. */
  private INDArray[] prepared(INDArray w, boolean oneD) {
    Prepared p = cache;
    if (p != null && p.source() == w) {
      return p.weights();
    }
    if (w.isAttached()) {
      // a weight made for this run only (a hook's fake-quantized copy): laid out in the run's
      // workspace and freed with it; a cached copy outside would be garbage after every run
      return layout(w, oneD);
    }
    // kept across runs: outside the session's workspace
    INDArray[] ws = Workspaces.outside(() -> layout(w, oneD));
    cache = new Prepared(w, ws);
    return ws;
  }

  private INDArray[] layout(INDArray w, boolean oneD) {
    INDArray w4 = oneD ? w.reshape('c', w.size(0), w.size(1), 1, w.size(2)) : w;
    long m = w4.size(0);
    long cg = w4.size(1);
    long c = cg * group;
    INDArray[] ws;
    if (group == 1) {
      ws = new INDArray[] {w4.permute(2, 3, 1, 0).dup('c')};
    } else if (group == c) {
      // [C * mult, 1, kH, kW] -> [kH, kW, C, mult]: output channel ci * mult + j reads input ci
      ws =
          new INDArray[] {
            w4.reshape('c', c, m / c, w4.size(2), w4.size(3)).permute(2, 3, 0, 1).dup('c')
          };
    } else {
      long mg = m / group;
      ws = new INDArray[group];
      for (int i = 0; i < group; i++) {
        ws[i] =
            w4.get(
                    NDArrayIndex.interval(i * mg, (i + 1) * mg),
                    NDArrayIndex.all(),
                    NDArrayIndex.all(),
                    NDArrayIndex.all())
                .permute(2, 3, 1, 0)
                .dup('c');
      }
    }
    return ws;
  }

  /**
   * Convolution of any spatial rank as im2col and a matrix product, in double precision; used for
   * 3-D and higher. Output positions are processed in chunks to bound the column buffer.
   */
  static INDArray im2col(INDArray x, INDArray w, INDArray b, Window.Geometry g, int group) {
    long[] xs = x.shape();
    int nd = xs.length - 2;
    int n = (int) xs[0];
    int c = (int) xs[1];
    int m = (int) w.size(0);
    int cg = c / group;
    int mg = m / group;
    long[] in = Window.spatial(xs);
    long[] out = g.out();
    int kk = (int) Window.product(g.kernel());
    int inSize = (int) Window.product(in);
    int outSize = (int) Window.product(out);
    // offsets[k * outSize + o]: flat spatial input index read by kernel tap k at output o, or -1
    int[] offsets = tapOffsets(in, out, g.kernel(), g.strides(), g.dilations(), g.pads());
    double[] xd = NnArrays.doubles(x);
    INDArray wd = w.castTo(DataType.DOUBLE).reshape('c', m, (long) cg * kk);
    double[] bias = b == null ? null : NnArrays.doubles(b);
    double[] y = new double[n * m * outSize];
    int rows = cg * kk;
    int chunk = Math.max(1, Math.min(outSize, (1 << 22) / Math.max(1, rows)));
    for (int grp = 0; grp < group; grp++) {
      INDArray wg = wd.get(NDArrayIndex.interval(grp * mg, (grp + 1) * mg), NDArrayIndex.all());
      for (int img = 0; img < n; img++) {
        for (int o0 = 0; o0 < outSize; o0 += chunk) {
          int len = Math.min(chunk, outSize - o0);
          double[] cols = new double[rows * len];
          for (int ci = 0; ci < cg; ci++) {
            int base = (img * c + grp * cg + ci) * inSize;
            for (int t = 0; t < kk; t++) {
              int row = (ci * kk + t) * len;
              int off = t * outSize + o0;
              for (int o = 0; o < len; o++) {
                int src = offsets[off + o];
                cols[row + o] = src < 0 ? 0 : xd[base + src];
              }
            }
          }
          double[] r =
              wg.mmul(Nd4j.create(cols, new long[] {rows, len}, 'c')).dup('c').data().asDouble();
          for (int mi = 0; mi < mg; mi++) {
            int ch = grp * mg + mi;
            double add = bias == null ? 0 : bias[ch];
            System.arraycopy(r, mi * len, y, (img * m + ch) * outSize + o0, len);
            if (add != 0) {
              for (int o = 0; o < len; o++) {
                y[(img * m + ch) * outSize + o0 + o] += add;
              }
            }
          }
        }
      }
    }
    long[] shape = new long[nd + 2];
    shape[0] = n;
    shape[1] = m;
    System.arraycopy(out, 0, shape, 2, nd);
    return NnArrays.fromDoubles(y, shape, x.dataType());
  }

  /**
   * For each kernel tap and output position, the flat spatial input index it reads ({@code -1} in
   * the padding): {@code result[tap * prod(out) + o]}.
   */
  static int[] tapOffsets(long[] in, long[] out, long[] k, long[] s, long[] d, long[] pads) {
    int nd = in.length;
    int outSize = (int) Window.product(out);
    int kk = (int) Window.product(k);
    int[] result = new int[kk * outSize];
    int[] tap = new int[nd];
    int[] pos = new int[nd];
    for (int t = 0; t < kk; t++) {
      Arrays.fill(pos, 0);
      for (int o = 0; o < outSize; o++) {
        int flat = 0;
        boolean inside = true;
        for (int i = 0; i < nd; i++) {
          long coord = pos[i] * s[i] - pads[i] + tap[i] * d[i];
          if (coord < 0 || coord >= in[i]) {
            inside = false;
            break;
          }
          flat = (int) (flat * in[i] + coord);
        }
        result[t * outSize + o] = inside ? flat : -1;
        increment(pos, out);
      }
      increment(tap, k);
    }
    return result;
  }

  /** Advances a c-order multi-index {@code idx} within {@code dims}. */
  static void increment(int[] idx, long[] dims) {
    for (int i = idx.length - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) {
        return;
      }
      idx[i] = 0;
    }
  }
}
