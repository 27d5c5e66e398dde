package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.debug.TwoBranch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlotAccErrorCommandTest {
  @TempDir static Path tmp;
  static TwoBranch net;

  @BeforeAll
  static void setUp() {
    net = TwoBranch.write(tmp, 4, 2);
  }

  static dev.qdebug.Cli.Result cli(String... extra) {
    return dev.qdebug.Cli.run(List.of("plot-acc-error", "--model", net.calibratedModel.toString(),
        "--calibration-data", net.calibration.toString()), extra);
  }

  @Test
  void defaultIsTheWeightActivationSplit() throws Exception {
    Path dir = tmp.resolve("wa");
    var r = cli("--save-dir", dir.toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("only_weight_calibrated") && r.out().contains("only_activation_calibrated"), r.out());
    String stem = "weight_activation_quantized_separately_cosine-similarity";
    assertTrue(Files.exists(dir.resolve(stem + ".html")));
    List<String> csv = Files.readAllLines(dir.resolve(stem + ".csv"));
    assertEquals("index,node,tensor,weight_activation_calibrated,only_activation_calibrated,only_weight_calibrated", csv.get(0));
    assertEquals(4, csv.size(), "points a, b, y");
    assertTrue(csv.get(2).startsWith("1,mm_b,b,") && csv.get(2).endsWith(",0.0"), "int8 Wb zeroes b: " + csv.get(2));
  }

  @Test
  void plusMakesPartialModels() throws Exception {
    Path dir = tmp.resolve("nested");
    var r = cli("--non-quantize-node", "mm_b,mm_a+mm_b", "--quantize-node", "mm_a", "--quantize-node", "add",
        "--metric", "mse", "--average-mode", "--data-num", "3", "--save-dir", dir.toString());
    assertEquals(0, r.status(), r.err());
    List<String> csv = Files.readAllLines(dir.resolve("average_non_quantize_node_accumulate_err_of_partial_qmodel_mse.csv"));
    assertEquals("index,node,tensor,default calibrated model,partial_qmodel_0,partial_qmodel_1", csv.get(0));
    csv = Files.readAllLines(dir.resolve("average_quantize_node_accumulate_err_of_node_mse.csv"));
    assertEquals("index,node,tensor,mm_a,add", csv.get(0), "without '+' a flat list, one curve per node");
  }

  @Test
  void badNodeOrOptionExitsTwoNamingIt() {
    Path dir = tmp.resolve("bad");
    var r = cli("--quantize-node", "mm_c", "--save-dir", dir.toString());
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("'mm_c'") && r.err().contains("closest") && r.err().contains("mm_a"), r.err());
    r = cli("--non-quantize-node", "weight", "--save-dir", dir.toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("--non-quantize-node"), r.err());
    r = cli("--metric", "psnr", "--save-dir", dir.toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("--metric"), r.err());
    r = cli("--quantize-node", "mm_a+", "--save-dir", dir.toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("--quantize-node") && r.err().contains("empty"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
  }
}
