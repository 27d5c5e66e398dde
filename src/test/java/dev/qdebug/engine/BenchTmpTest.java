package dev.qdebug.engine;
import static dev.qdebug.engine.OrtOracle.*;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.buffer.DataType;
import dev.qdebug.onnx.OnnxModel;
import java.util.Map;
class BenchTmpTest {
  static void time(String name, OrtOracle.Case c) throws Exception {
    OnnxModel m = OnnxModel.of(c.model(), name);
    Map<String, INDArray> feeds = new java.util.LinkedHashMap<>();
    for (int i = 0; i < c.inputs.size(); i++) if (c.inputs.get(i) != null) feeds.put("x" + i, c.inputs.get(i));
    try (Session s = Session.open(m)) {
      for (int i = 0; i < 5; i++) s.run(feeds);
      long t0 = System.nanoTime();
      int n = 20;
      for (int i = 0; i < n; i++) s.run(feeds);
      System.out.printf("%-40s %8.2f ms%n", name, (System.nanoTime() - t0) / 1e6 / n);
    }
  }
  @Test void bench() throws Exception {
    INDArray x = floats(1, 64, 128, 128);
    time("resize nearest 2x 64x128x128", new OrtOracle.Case("Resize", 13).in(x, null, f32(1,1,2,2)).attr("mode","nearest"));
    time("resize linear 2x 64x128x128", new OrtOracle.Case("Resize", 13).in(x, null, f32(1,1,2,2)).attr("mode","linear"));
    time("resize linear align 2x", new OrtOracle.Case("Resize", 13).in(x, null, null, i64(1,64,256,256)).attr("mode","linear").attr("coordinate_transformation_mode","align_corners"));
    time("resize cubic 2x", new OrtOracle.Case("Resize", 13).in(x, null, f32(1,1,2,2)).attr("mode","cubic"));
    time("upsample nearest 2x", new OrtOracle.Case("Upsample", 9).in(x, f32(1,1,2,2)));
    time("transpose NCHW->NHWC", new OrtOracle.Case("Transpose", 13).in(x).attrInts("perm", 0,2,3,1));
    time("concat 2x ch", new OrtOracle.Case("Concat", 13).in(x, x).attr("axis", 1L));
    time("slice half ch", new OrtOracle.Case("Slice", 13).in(x, i64(0), i64(32), i64(1)));
    time("split 2", new OrtOracle.Case("Split", 13).in(x, i64(32,32)).attr("axis",1L).outputs(2));
    time("pad 1", new OrtOracle.Case("Pad", 13).in(x, i64(0,0,1,1,0,0,1,1)));
    time("reshape", new OrtOracle.Case("Reshape", 13).in(x, i64(1,64,-1)));
    INDArray emb = floats(30000, 768);
    long[] idx = new long[128]; for (int i = 0; i < 128; i++) idx[i] = i * 191 % 30000;
    time("gather embedding 128 of 30000x768", new OrtOracle.Case("Gather", 13).in(emb, Nd4j.createFromArray(new long[][]{idx})));
    INDArray t = floats(1, 197, 768);
    time("transpose 4D attention", new OrtOracle.Case("Transpose", 13).in(floats(1,197,12,64)).attrInts("perm",0,2,1,3));
  }
}
