package dev.qdebug.engine.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.TestModels;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Conv caches its weights in ND4J layout (NCHW plans) or oneDNN's blocked layout (channels-last
 * plans, {@link Dnnl}) for the identity of the incoming weight array: a different array (as a
 * fake-quantizing hook supplies) must be used, the same array reused; and non-contiguous inputs
 * (views from earlier ops) must give the same result as dense ones.
 */
class ConvWeightCacheTest {
  private static Conv conv(long group, boolean channelsLast) {
    Conv c = conv(group);
    return channelsLast ? c.channelsLast() : c;
  }

  private static Conv conv(long group) {
    NodeProto.Builder n = NodeProto.newBuilder().setOpType("Conv").setName("c");
    n.addAttribute(TestModels.ints("pads", 1, 1, 1, 1));
    n.addAttribute(TestModels.intAttr("group", group));
    return new Conv(OnnxNode.of(n.build()), 17);
  }

  private static boolean close(INDArray a, INDArray b) {
    return a.equalsWithEps(b, 1e-4);
  }

  @Test
  void newWeightArrayIsUsedAndSameArrayReused() {
    for (boolean cl : new boolean[] {false, true}) {
      newWeightArrayIsUsedAndSameArrayReused(cl);
    }
  }

  private static void newWeightArrayIsUsedAndSameArrayReused(boolean channelsLast) {
    for (long group : new long[] {1, 2, 4}) {
      Nd4j.getRandom().setSeed(7);
      INDArray x = Nd4j.rand(DataType.FLOAT, 1, 4, 6, 6);
      INDArray w1 = Nd4j.rand(DataType.FLOAT, 8, 4 / group, 3, 3);
      INDArray w2 = w1.mul(-0.5);
      Conv op = conv(group, channelsLast);
      INDArray y1 = op.run(new INDArray[] {x, w1})[0];
      INDArray y2 = op.run(new INDArray[] {x, w2})[0];
      assertTrue(close(y2, conv(group).run(new INDArray[] {x, w2})[0]), "group " + group);
      assertTrue(close(y2, y1.mul(-0.5)), "group " + group);
      long packs = op.dnnlPacks();
      INDArray y1again = op.run(new INDArray[] {x, w1})[0];
      assertTrue(close(y1, y1again), "group " + group);
      if (channelsLast) { // oneDNN's packed weights: the last two arrays are kept
        assertEquals(packs, op.dnnlPacks(), "w1 is kept beside w2, group " + group);
        INDArray w3 = w1.mul(2);
        INDArray y3 = op.run(new INDArray[] {x, w3})[0];
        assertTrue(close(y3, y1.mul(2)), "group " + group);
        assertEquals(packs + 1, op.dnnlPacks(), "w3 is packed, w2 (least recent) dropped");
        op.run(new INDArray[] {x, w1});
        assertEquals(packs + 1, op.dnnlPacks(), "w1 is still kept");
        assertTrue(close(y2, op.run(new INDArray[] {x, w2})[0]), "group " + group);
        assertEquals(packs + 2, op.dnnlPacks(), "w2 is packed again");
      }
      assertFalse(close(y1, y2));
    }
  }

  @Test
  void viewsGiveTheSameResultAsDenseArrays() {
    Nd4j.getRandom().setSeed(8);
    // x as a permuted view of an NHWC array, weights as a permuted view too
    INDArray nhwc = Nd4j.rand(DataType.FLOAT, 2, 7, 6, 4);
    INDArray x = nhwc.permute(0, 3, 1, 2);
    INDArray wt = Nd4j.rand(DataType.FLOAT, 3, 3, 4, 8);
    INDArray w = wt.permute(3, 2, 0, 1);
    for (long group : new long[] {1, 4}) {
      INDArray wg =
          group == 1
              ? w
              : w.get(
                  org.nd4j.linalg.indexing.NDArrayIndex.all(),
                  org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1),
                  org.nd4j.linalg.indexing.NDArrayIndex.all(),
                  org.nd4j.linalg.indexing.NDArrayIndex.all());
      for (boolean cl : new boolean[] {false, true}) {
        INDArray viewResult = conv(group, cl).run(new INDArray[] {x, wg})[0];
        INDArray denseResult = conv(group).run(new INDArray[] {x.dup('c'), wg.dup('c')})[0];
        assertArrayEquals(denseResult.shape(), viewResult.shape());
        assertTrue(close(denseResult, viewResult), "group " + group + (cl ? ", channels-last" : ""));
      }
    }
  }
}
