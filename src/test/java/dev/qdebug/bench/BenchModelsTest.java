package dev.qdebug.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Ort;
import dev.qdebug.engine.Session;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The benchmark's MnasNet 1.0 and MobileViT-S, built at full width but at 64x64 (the layout does
 * not depend on the resolution; the benchmark runs them at 224 and 256), give ONNX Runtime's
 * logits on random images, batch 2.
 */
class BenchModelsTest {
  @Test
  void mnasnetMatchesOrt() {
    ModelProto m = BenchModels.mnasnet(64);
    check(m, 1000);
    // torchvision's mnasnet1_0 has 52 convolutions (batch normalization folded) and one Linear
    assertEquals(52, count(m, "Conv"));
    assertEquals(1, count(m, "Gemm"));
  }

  @Test
  void mobilevitSMatchesOrt() {
    ModelProto m = BenchModels.mobilevitS(64);
    check(m, 1000);
    // 2 + 4 + 3 transformer layers: two LayerNorms each, one after each block's stack
    assertEquals(2 * 9 + 3, count(m, "LayerNormalization"));
    assertEquals(9, count(m, "Softmax"));
    // a linear per qkv, out projection and the two FFN layers, two attention products
    assertEquals(9 * 6, count(m, "MatMul"));
  }

  private static long count(ModelProto m, String op) {
    return m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals(op)).count();
  }

  private static void check(ModelProto proto, int classes) {
    OnnxModel m = OnnxModel.of(proto, "bench-model");
    Nd4j.getRandom().setSeed(7);
    long[] shape = m.inputs().get(0).shape().clone();
    shape[0] = 2;
    INDArray x = Nd4j.rand(DataType.FLOAT, shape);
    Map<String, INDArray> in = Map.of(m.inputs().get(0).name(), x);
    String out = m.outputs().get(0).name();
    INDArray ours;
    try (Session s = Session.open(m)) {
      ours = s.run(in).get(out);
    }
    INDArray ort = Ort.run(proto, in, List.of(out)).get(out);
    assertEquals(List.of(2L, (long) classes), List.of(ours.shape()[0], ours.shape()[1]));
    double scale = Math.max(1, ort.amaxNumber().doubleValue());
    double diff = ours.sub(ort).amaxNumber().doubleValue();
    assertTrue(Double.isFinite(scale), "ORT gives non-finite logits");
    assertTrue(ort.stdNumber().doubleValue() > 1e-3 * scale, "logits are constant: the random weights vanish");
    assertTrue(diff <= 1e-4 * scale, "max |ours - ORT| = " + diff + " (scale " + scale + ")");
  }
}
