package dev.qdebug.engine.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static dev.qdebug.TestModels.intAttr;
import static dev.qdebug.TestModels.ints;

import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Convolutions, products and sigmoids on oneDNN ({@link Dnnl}): the library loads on the project's platform (a
 * plan would otherwise fall back to ND4J's ops without a word), the fused clamp gives the clamped
 * output bit for bit, one convolution run from several threads at once (a sweep's candidates)
 * gives what it gives on one, and the sigmoid is ND4J's within rounding. Agreement with ONNX
 * Runtime is {@code NnOpsOrtTest}'s and {@code ChannelsLastTest}'s.
 */
class DnnlTest {
  /** A channels-last convolution with the given pads, strides and groups. */
  private static Conv conv(long group, long[] pads, long[] strides) {
    return nchw(group, pads, strides).channelsLast();
  }

  /** The same convolution in an NCHW plan. */
  private static Conv nchw(long group, long[] pads, long[] strides) {
    NodeProto.Builder n = NodeProto.newBuilder().setOpType("Conv").setName("c");
    n.addAttribute(ints("pads", pads));
    n.addAttribute(ints("strides", strides));
    n.addAttribute(intAttr("group", group));
    return new Conv(OnnxNode.of(n.build()), 17);
  }

  private static float[] values(INDArray y) {
    return y.dup('c').data().asFloat();
  }

  @Test
  void oneDnnLoadsOnThisPlatform() {
    assertNull(Dnnl.unavailable());
    assertTrue(Dnnl.enabled());
    assertNull(nchw(1, new long[] {1, 1, 1, 1}, new long[] {1, 1}).with(Dnnl.PostOp.clamp(0, 6, false)),
        "an NCHW convolution has no oneDNN path");
  }

  @Test
  void clampPostOpGivesTheClampedOutputBitForBit() {
    Nd4j.getRandom().setSeed(11);
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, 16, 9, 9);
    INDArray b = Nd4j.randn(DataType.FLOAT, 24);
    double[][] bounds = {{0, Double.POSITIVE_INFINITY}, {0, 6}, {-0.5, 0.25}};
    for (long group : new long[] {1, 16 / 2, 16}) {
      INDArray w = Nd4j.randn(DataType.FLOAT, group == 16 ? 16 : 24, 16 / group, 3, 3);
      INDArray[] in = {x, w, group == 16 ? null : b};
      if (in[2] == null) {
        in = new INDArray[] {x, w};
      }
      for (long[] pads : new long[][] {{1, 1, 1, 1}, {0, 1, 2, 0}}) {
        Conv plain = conv(group, pads, new long[] {2, 1});
        for (double[] lh : bounds) {
          boolean relu = lh[0] == 0 && Double.isInfinite(lh[1]);
          INDArray want = plain.run(in)[0].dup('c');
          Fusion.clampInPlace(want, lh[0], lh[1], relu);
          Conv fused = plain.with(Dnnl.PostOp.clamp(lh[0], lh[1], relu));
          assertNotNull(fused);
          INDArray got = fused.run(in)[0];
          assertTrue(ChannelsLast.is(got), "the output stays channels-last");
          assertArrayEquals(values(want), values(got),
              "group " + group + ", clamp " + lh[0] + ".." + lh[1]);
        }
      }
    }
  }

  @Test
  void smallConvolutionsRunOnTheCallingThreadAndLeaveItsThreadCountAsItWas() {
    var ops = org.nd4j.nativeblas.NativeOpsHolder.getInstance().getDeviceNativeOps();
    int threads = ops.ompGetMaxThreads();
    Dnnl.Shape small = new Dnnl.Shape(1, 8, 6, 6, 8, 6, 6, false, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    Dnnl.Shape large = new Dnnl.Shape(8, 64, 56, 56, 64, 56, 56, false, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    assertTrue(Dnnl.Threads.create(small, null).oneThread);
    assertEquals(threads, ops.ompGetMaxThreads(), "restored after creating");
    assertTrue(!Dnnl.Threads.create(large, null).oneThread);
    Nd4j.getRandom().setSeed(14);
    INDArray x = Nd4j.randn(DataType.FLOAT, 1, 8, 6, 6);
    INDArray w = Nd4j.randn(DataType.FLOAT, 8, 8, 3, 3);
    INDArray y = conv(1, new long[] {1, 1, 1, 1}, new long[] {1, 1}).run(new INDArray[] {x, w})[0];
    assertEquals(threads, ops.ompGetMaxThreads(), "restored after running");
    INDArray nchw = nchw(1, new long[] {1, 1, 1, 1}, new long[] {1, 1}).run(new INDArray[] {x, w})[0];
    assertTrue(y.equalsWithEps(nchw, 1e-4), "one thread computes the same convolution");
  }

  @Test
  void aFusedActivationIsAppliedOnEveryPathOfAChannelsLastConvolution() {
    // 1-D (and 3-D) convolutions of a channels-last plan do not run on oneDNN: the fused
    // activation is applied after ND4J's convolution
    NodeProto.Builder n = NodeProto.newBuilder().setOpType("Conv").setName("c1");
    n.addAttribute(ints("pads", 1, 1));
    Conv plain = new Conv(OnnxNode.of(n.build()), 17).channelsLast();
    Nd4j.getRandom().setSeed(16);
    INDArray[] in = {Nd4j.randn(DataType.FLOAT, 2, 4, 9), Nd4j.randn(DataType.FLOAT, 6, 4, 3)};
    INDArray want = plain.run(in)[0].dup('c');
    assertTrue(want.minNumber().doubleValue() < 0);
    Fusion.clampInPlace(want, 0, 6, false);
    INDArray got = plain.with(Dnnl.PostOp.clamp(0, 6, false)).run(in)[0];
    assertArrayEquals(values(want), values(got));
    INDArray silu = plain.with(Dnnl.PostOp.SILU).run(in)[0].dup('c');
    INDArray s = plain.run(in)[0].dup('c');
    Fusion.siluInPlace(s);
    assertArrayEquals(values(s), values(silu));
  }

  @Test
  void siluPostOpIsTheActivationWithinRounding() {
    Nd4j.getRandom().setSeed(13);
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, 8, 11, 11).muli(3);
    INDArray w = Nd4j.randn(DataType.FLOAT, 12, 8, 3, 3);
    INDArray b = Nd4j.randn(DataType.FLOAT, 12);
    Conv plain = conv(1, new long[] {1, 1, 1, 1}, new long[] {1, 1});
    INDArray want = plain.run(new INDArray[] {x, w, b})[0].dup('c');
    assertTrue(want.minNumber().doubleValue() < -5, "negative outputs are exercised");
    Fusion.siluInPlace(want);
    INDArray got = plain.with(Dnnl.PostOp.SILU).run(new INDArray[] {x, w, b})[0].dup('c');
    double scale = Math.max(1, want.amaxNumber().doubleValue());
    double diff = got.sub(want).amaxNumber().doubleValue();
    assertTrue(diff <= 1e-6 * scale, "fused SiLU differs by " + diff);
  }

  /**
   * Products: oneDNN runs them (no silent fallback), plain and transposed weights with a bias give
   * ND4J's product within float rounding, and the weights are re-laid out once per weight array.
   */
  @Test
  void productsRunOnOneDnnWithTheirWeightsPackedOnce() {
    Nd4j.getRandom().setSeed(17);
    INDArray a = Nd4j.randn(DataType.FLOAT, 37, 300);
    INDArray w = Nd4j.randn(DataType.FLOAT, 300, 130);
    INDArray wt = w.transpose().dup('c'); // [130, 300], as Gemm's transB stores it
    INDArray bias = Nd4j.randn(DataType.FLOAT, 130);
    INDArray want = a.mmul(w).addRowVector(bias);
    Dnnl.Product p = new Dnnl.Product();
    for (boolean transposed : new boolean[] {false, true}) {
      for (int run = 0; run < 2; run++) {
        INDArray y = p.run(a, transposed ? wt : w, transposed, bias);
        assertNotNull(y, "oneDNN runs the product");
        float[] g = y.data().asFloat();
        float[] e = want.dup('c').data().asFloat();
        for (int i = 0; i < e.length; i++) {
          assertEquals(e[i], g[i], 1e-4f * (1 + Math.abs(e[i])), "transposed " + transposed + " at " + i);
        }
      }
    }
    assertEquals(2, p.packs(), "each weight array re-laid out once");
    assertNull(p.run(a, w, false, Nd4j.randn(DataType.FLOAT, 7)), "a bias that does not fit: ND4J's path");
    assertNull(p.run(a.castTo(DataType.DOUBLE), w, false, null), "doubles: ND4J's path");
  }

  /**
   * Batched products of two computed tensors (attention): a transposed view is read in place and
   * gives the product of its copy, within float rounding of ND4J's; broadcast batch dimensions are
   * left to ND4J.
   */
  @Test
  void batchedProductsReadTransposedViewsInPlace() {
    Nd4j.getRandom().setSeed(19);
    INDArray q = Nd4j.randn(DataType.FLOAT, 2, 3, 40, 24);
    INDArray k = Nd4j.randn(DataType.FLOAT, 2, 3, 40, 24);
    INDArray kt = k.permute(0, 1, 3, 2); // a view, as a Transpose step gives it
    INDArray want = Nd4j.matmul(q, kt.dup('c'));
    Dnnl.Batched p = new Dnnl.Batched();
    for (INDArray b : new INDArray[] {kt, kt.dup('c')}) {
      INDArray y = p.run(q, b);
      assertNotNull(y, "oneDNN runs the batched product");
      assertArrayEquals(want.shape(), y.shape());
      float[] e = want.dup('c').data().asFloat();
      float[] g = y.dup('c').data().asFloat();
      for (int i = 0; i < e.length; i++) {
        assertEquals(e[i], g[i], 1e-4f * (1 + Math.abs(e[i])), "at " + i);
      }
    }
    assertNull(p.run(q, Nd4j.randn(DataType.FLOAT, 1, 3, 24, 40)), "broadcast batch: ND4J's path");
  }

  /**
   * A classifier-shaped product run from three threads at once (a sweep's workers) gives what it
   * gives on one, bit for bit.
   */
  @Test
  void oneProductOnSeveralThreadsIsTheProductOnOne() throws Exception {
    Nd4j.getRandom().setSeed(29);
    INDArray a = Nd4j.randn(DataType.FLOAT, 4, 1280);
    INDArray w = Nd4j.randn(DataType.FLOAT, 1000, 1280);
    INDArray bias = Nd4j.randn(DataType.FLOAT, 1000);
    Dnnl.Product p = new Dnnl.Product();
    float[] alone = p.run(a, w, true, bias).data().asFloat();
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      List<Future<float[]>> runs = new ArrayList<>();
      for (int t = 0; t < 12; t++) {
        runs.add(pool.submit(() -> p.run(a, w, true, bias).data().asFloat()));
      }
      for (Future<float[]> f : runs) {
        assertArrayEquals(alone, f.get());
      }
    } finally {
      pool.shutdown();
    }
  }

  /** Layer normalization on oneDNN (not a silent fallback): the definition within rounding. */
  @Test
  void layerNormRunsOnOneDnn() {
    Nd4j.getRandom().setSeed(31);
    INDArray x = Nd4j.randn(DataType.FLOAT, 300, 144).muli(3).addi(1);
    INDArray scale = Nd4j.randn(DataType.FLOAT, 144);
    INDArray shift = Nd4j.randn(DataType.FLOAT, 144);
    for (INDArray sh : new INDArray[] {shift, null}) {
      INDArray y = Dnnl.layerNorm(x, scale, sh, 1e-5f);
      assertNotNull(y, "oneDNN normalizes");
      INDArray mean = x.mean(true, 1);
      INDArray d = x.subColumnVector(mean);
      INDArray inv = org.nd4j.linalg.ops.transforms.Transforms.pow(d.mul(d).mean(true, 1).addi(1e-5), -0.5, false);
      INDArray want = d.mulColumnVector(inv).mulRowVector(scale);
      if (sh != null) {
        want.addiRowVector(sh);
      }
      float[] e = want.dup('c').data().asFloat();
      float[] g = y.dup('c').data().asFloat();
      for (int i = 0; i < e.length; i++) {
        assertEquals(e[i], g[i], 2e-5f * (1 + Math.abs(e[i])), "at " + i);
      }
    }
    assertNull(Dnnl.layerNorm(x, Nd4j.randn(DataType.FLOAT, 7), null, 1e-5f), "a scale that does not fit");
  }

  /** A permuted view copied into row-major order by oneDNN is ND4J's copy, value for value. */
  @Test
  void permutedViewsAreCopiedExactly() {
    Nd4j.getRandom().setSeed(23);
    INDArray x6 = Nd4j.randn(DataType.FLOAT, 2, 3, 4, 5, 2, 3);
    INDArray[] views = {
      Nd4j.randn(DataType.FLOAT, 70, 130).transpose(),
      Nd4j.randn(DataType.FLOAT, 4, 1, 6, 5).permute(2, 0, 3, 1),
      x6.permute(0, 2, 4, 1, 3, 5),
      x6.permute(5, 4, 3, 2, 1, 0),
      // a view with an offset: the second half along the first axis
      Nd4j.randn(DataType.FLOAT, 6, 7, 8).get(
          org.nd4j.linalg.indexing.NDArrayIndex.interval(3, 6),
          org.nd4j.linalg.indexing.NDArrayIndex.all(),
          org.nd4j.linalg.indexing.NDArrayIndex.all()).permute(2, 0, 1),
    };
    for (INDArray v : views) {
      INDArray y = Dnnl.dense(v);
      assertNotNull(y, "oneDNN copies " + java.util.Arrays.toString(v.shape()));
      assertArrayEquals(v.shape(), y.shape());
      assertArrayEquals(v.dup('c').data().asFloat(), y.data().asFloat(), java.util.Arrays.toString(v.shape()));
    }
    assertNull(Dnnl.dense(Nd4j.randn(DataType.DOUBLE, 3, 4).transpose()), "doubles: ND4J's copy");
  }

  @Test
  void sigmoidIsNd4jsWithinRoundingAndLeavesOtherArraysToIt() {
    Nd4j.getRandom().setSeed(15);
    for (long n : new long[] {1, 300, 70_000}) { // one thread and two
      INDArray x = Nd4j.randn(DataType.FLOAT, 2, n).muli(8);
      INDArray want = org.nd4j.linalg.ops.transforms.Transforms.sigmoid(x, true);
      INDArray got = Dnnl.sigmoid(x);
      assertArrayEquals(x.shape(), got.shape());
      double diff = got.sub(want).amaxNumber().doubleValue();
      assertTrue(diff <= 2.5e-7, n + " values: " + diff);
    }
    assertNull(Dnnl.sigmoid(Nd4j.randn(DataType.DOUBLE, 4)), "doubles stay with ND4J");
    assertNull(Dnnl.sigmoid(Nd4j.randn(DataType.FLOAT, 4, 4).transpose()), "views stay with ND4J");
  }

  @Test
  void oneConvolutionOnSeveralThreadsGivesItsSingleThreadResults() throws Exception {
    Nd4j.getRandom().setSeed(12);
    Conv c = conv(1, new long[] {1, 1, 1, 1}, new long[] {1, 1});
    INDArray w = Nd4j.randn(DataType.FLOAT, 64, 64, 3, 3);
    int inputs = 6;
    List<INDArray> xs = new ArrayList<>();
    List<float[]> want = new ArrayList<>();
    for (int i = 0; i < inputs; i++) {
      xs.add(Nd4j.randn(DataType.FLOAT, 2, 64, 28, 28));
      want.add(values(c.run(new INDArray[] {xs.get(i), w})[0]));
    }
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      List<Future<Integer>> done = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        int offset = t;
        done.add(
            pool.submit(
                () -> {
                  int checked = 0;
                  for (int r = 0; r < 24; r++) {
                    int i = (r + offset) % inputs;
                    assertArrayEquals(
                        want.get(i), values(c.run(new INDArray[] {xs.get(i), w})[0]), "input " + i);
                    checked++;
                  }
                  return checked;
                }));
      }
      for (Future<Integer> f : done) {
        assertEquals(24, f.get());
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
