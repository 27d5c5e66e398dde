package dev.qdebug.engine.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * GlobalAveragePool / GlobalMaxPool over a channels-last tensor (one pass over the NHWC values)
 * give what they give over the same values in NCHW: the maximum exactly, the mean within float
 * rounding of a different summation order.
 */
class GlobalPoolTest {
  private static OnnxNode node(String op) {
    return OnnxNode.of(NodeProto.newBuilder().setOpType(op).setName("pool").build());
  }

  @Test
  void channelsLastInputGivesTheNchwResult() {
    Nd4j.getRandom().setSeed(3);
    INDArray x = Nd4j.randn(DataType.FLOAT, 3, 37, 7, 5);
    INDArray cl = ChannelsLast.of(x);
    org.junit.jupiter.api.Assertions.assertTrue(ChannelsLast.is(cl) && FlatData.isPlain(ChannelsLast.storage(cl)));
    for (boolean max : new boolean[] {false, true}) {
      GlobalPool op = max ? GlobalPool.max(node("GlobalMaxPool"), 13) : GlobalPool.average(node("GlobalAveragePool"), 13);
      INDArray want = op.run(new INDArray[] {x})[0];
      INDArray got = op.run(new INDArray[] {cl})[0];
      assertArrayEquals(new long[] {3, 37, 1, 1}, got.shape());
      float[] w = want.dup('c').data().asFloat();
      float[] g = got.dup('c').data().asFloat();
      for (int i = 0; i < w.length; i++) {
        assertEquals(w[i], g[i], max ? 0 : 1e-6f * (1 + Math.abs(w[i])), (max ? "max" : "mean") + " at " + i);
      }
    }
  }
}
