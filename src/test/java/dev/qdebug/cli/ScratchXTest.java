package dev.qdebug.cli;

import dev.qdebug.Cli;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScratchXTest {
  @TempDir Path tmp;

  @Test
  void run() throws Exception {
    Path f = tmp.resolve("f.onnx");
    HostileInputTest.graph("x").model().save(f);
    HostileInputTest.samples(tmp.resolve("d/x"), 2, 1f);
    for (int code : new int[] {999, TensorProto.DataType.INT64_VALUE}) {
      var b = OnnxModel.load(f).proto().toBuilder();
      b.getGraphBuilder().getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().setElemType(code);
      Path g = tmp.resolve("g" + code + ".onnx");
      Files.write(g, b.build().toByteArray());
      var r = Cli.run("calibrate", "--model", g.toString(), "--calibration-data", tmp.resolve("d").toString(), "--output", tmp.resolve("o.onnx").toString(), "--method", "max");
      System.out.println("STATUS " + r.status() + " OUT " + r.out() + " ERR[" + r.err() + "]");
    }
  }
}
