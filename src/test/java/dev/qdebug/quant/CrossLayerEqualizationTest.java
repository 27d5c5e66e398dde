package dev.qdebug.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Ort;
import dev.qdebug.TestModels;
import dev.qdebug.engine.Session;
import dev.qdebug.onnx.OnnxModel;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Cross-layer equalization and the model edits of bias correction: the float function is
 * unchanged (ONNX Runtime on the original and the edited model), the channel ranges balance.
 */
public class CrossLayerEqualizationTest {
  /** Conv c1 (8 filters, filter c scaled by 4^(c-4)) -> Relu -> Conv c2 (input c scaled back). */
  public static OnnxModel convReluConv(Random r) {
    float[] w1 = new float[8 * 4 * 3 * 3];
    float[] b1 = new float[8];
    float[] w2 = new float[6 * 8];
    for (int i = 0; i < w1.length; i++) {
      int c = i / 36;
      w1[i] = (float) (r.nextGaussian() * Math.pow(4, c - 4));
    }
    for (int c = 0; c < 8; c++) {
      b1[c] = (float) (0.1 * Math.pow(4, c - 4));
    }
    for (int i = 0; i < w2.length; i++) {
      int c = i % 8;
      w2[i] = (float) (r.nextGaussian() / Math.pow(4, c - 4));
    }
    return TestModels.graph()
        .input("x", -1, 4, 6, 6)
        .initializer("W1", w1, 8, 4, 3, 3)
        .initializer("B1", b1, 8)
        .initializer("W2", w2, 6, 8, 1, 1)
        .node("Conv", "c1", new String[] {"x", "W1", "B1"}, new String[] {"h"}, TestModels.ints("pads", 1, 1, 1, 1))
        .node("Relu", "relu", new String[] {"h"}, new String[] {"hr"})
        .node("Conv", "c2", new String[] {"hr", "W2"}, new String[] {"y"})
        .output("y", -1, 6, 6, 6)
        .model();
  }

  static void assertClose(INDArray want, INDArray got, double rel) {
    float[] a = want.dup('c').data().asFloat();
    float[] b = got.dup('c').data().asFloat();
    float scale = 0;
    for (float x : a) {
      scale = Math.max(scale, Math.abs(x));
    }
    assertEquals(a.length, b.length);
    for (int i = 0; i < a.length; i++) {
      assertEquals(a[i], b[i], rel * scale, "element " + i);
    }
  }

  @Test
  void equalizedModelComputesTheSameFunctionInOnnxRuntime() {
    Random r = new Random(7);
    OnnxModel m = convReluConv(r);
    try (Session s = Session.open(m)) {
      Optional<CrossLayerEqualization.Pair> p = CrossLayerEqualization.around(s.plan(), "c1");
      assertTrue(p.isPresent());
      assertEquals(p, CrossLayerEqualization.around(s.plan(), "c2"), "found from either node");
      assertEquals("relu", p.get().activation());
      assertEquals("hr", p.get().between());
      float[] scales = CrossLayerEqualization.scales(s.plan(), p.get());
      Map<String, INDArray> eq = CrossLayerEqualization.apply(s.plan(), p.get(), scales);
      assertEquals(List.of("W1", "B1", "W2"), List.copyOf(eq.keySet()));
      // both ranges become sqrt(r1 * r2), per channel
      float[] r1 = CrossLayerEqualization.absMax(s.plan().constant("W1"), 0);
      float[] r2 = CrossLayerEqualization.absMax(s.plan().constant("W2"), 1);
      float[] e1 = CrossLayerEqualization.absMax(eq.get("W1"), 0);
      float[] e2 = CrossLayerEqualization.absMax(eq.get("W2"), 1);
      for (int c = 0; c < 8; c++) {
        double g = Math.sqrt((double) r1[c] * r2[c]);
        assertEquals(g, e1[c], 1e-5 * g);
        assertEquals(g, e2[c], 1e-5 * g);
      }
      // before: W1's largest channel range is 4^7 times its smallest; after, within a few times
      float[] sorted = e1.clone();
      java.util.Arrays.sort(sorted);
      assertTrue(sorted[7] / sorted[0] < 20, "balanced: " + java.util.Arrays.toString(e1));
      OnnxModel equalized = ModelEdits.withInitializers(m, eq);
      INDArray x = Nd4j.randn(new Random(1).nextLong(), new long[] {3, 4, 6, 6}).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT);
      INDArray before = Ort.run(m.proto(), Map.of("x", x), List.of("y")).get("y");
      INDArray after = Ort.run(equalized.proto(), Map.of("x", x), List.of("y")).get("y");
      assertClose(before, after, 1e-5);
    }
  }

  @Test
  void noPairWhereTheIntermediateHasTwoReaders() {
    OnnxModel m =
        TestModels.graph()
            .input("x", -1, 4)
            .initializer("W1", new float[16], 4, 4)
            .initializer("W2", new float[16], 4, 4)
            .node("MatMul", "a", new String[] {"x", "W1"}, new String[] {"h"})
            .node("MatMul", "b", new String[] {"h", "W2"}, new String[] {"y"})
            .node("Add", "add", new String[] {"h", "y"}, new String[] {"z"})
            .output("z", -1, 4)
            .model();
    try (Session s = Session.open(m)) {
      assertTrue(CrossLayerEqualization.around(s.plan(), "a").isEmpty());
      assertTrue(CrossLayerEqualization.around(s.plan(), "b").isEmpty());
    }
  }

  @Test
  void biasFoldsIntoTheBiasOrAnInsertedAdd() {
    Random r = new Random(9);
    OnnxModel conv = convReluConv(r);
    float[] d1 = {1, 2, 3, 4, 5, 6, 7, 8};
    float[] d2 = {-1, -2, -3, -4, -5, -6};
    // c1 has a bias: folded into it; c2 has none: an Add after it, the output name kept
    OnnxModel edited = BiasCorrection.fold(BiasCorrection.fold(conv, "c1", d1), "c2", d2);
    assertEquals(conv.nodes().size() + 1, edited.nodes().size());
    INDArray x = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 4, 6, 6);
    Map<String, INDArray> before =
        Ort.run(Ort.withOutputs(conv.proto(), List.of("h")), Map.of("x", x), List.of("h", "y"));
    Map<String, INDArray> after =
        Ort.run(Ort.withOutputs(edited.proto(), List.of("h")), Map.of("x", x), List.of("h", "y"));
    assertClose(BiasCorrection.add(before.get("h"), 1, d1), after.get("h"), 1e-5);
    // y = c2(relu(h + d1)) + d2: compare with qdebug's engine on the first edit alone
    try (Session s = Session.open(BiasCorrection.fold(conv, "c1", d1))) {
      INDArray y = s.run(Map.of("x", x)).get("y");
      assertClose(BiasCorrection.add(y, 1, d2), after.get("y"), 1e-5);
    }
  }
}
