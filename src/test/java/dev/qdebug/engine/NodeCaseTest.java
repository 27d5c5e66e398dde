package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.qdebug.QdebugException;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.ValueInfo;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Every official ONNX node-test case copied into the test resources (see their README.md and
 * LICENSE): a case whose ops the engine supports must reproduce the expected outputs within the
 * ONNX backend tolerance (rtol 1e-3, atol 1e-7; integers and booleans exactly); a case with an op
 * it does not support must fail at compile time with an error naming that op; a case using an
 * element type or feature outside qdebug's scope (listed below with the reason) must fail with a
 * clear error instead of computing something wrong.
 *
 * <p>{@code -Dqdebug.cases=conv} runs only the cases whose folder name contains "conv".
 */
class NodeCaseTest {
  static final double RTOL = 1e-3;
  static final double ATOL = 1e-7;

  /** Cases outside the engine's scope, each with why; they must fail with a clear error. */
  static final Map<String, String> OUT_OF_SCOPE = new LinkedHashMap<>();

  static {
    for (String t : List.of("e4m3fn", "e5m2", "float4e2m1", "int2", "uint2", "int4", "uint4")) {
      OUT_OF_SCOPE.put(
          "quantizelinear_" + t, "element type " + t + " (qdebug quantizes to int8/uint8/int16)");
      OUT_OF_SCOPE.put("dequantizelinear_" + t, "element type " + t);
    }
    OUT_OF_SCOPE.put("dequantizelinear_e4m3fn_float16", "float8 element type");
    OUT_OF_SCOPE.put("dequantizelinear_e4m3fn_zero_point", "float8 element type");
    OUT_OF_SCOPE.put("quantizelinear_blocked_asymmetric", "blocked quantization (block_size)");
    OUT_OF_SCOPE.put("quantizelinear_blocked_symmetric", "blocked quantization (block_size)");
    OUT_OF_SCOPE.put("dequantizelinear_blocked", "blocked quantization (block_size)");
  }

  @TestFactory
  Stream<DynamicTest> nodeCases() throws IOException, URISyntaxException {
    String filter = System.getProperty("qdebug.cases", "");
    return Stream.of("onnx-node-tests", "onnx-node-tests-onnx1.12")
        .flatMap(NodeCaseTest::caseDirs)
        .filter(dir -> dir.getFileName().toString().contains(filter))
        .map(
            dir ->
                DynamicTest.dynamicTest(
                    dir.getParent().getFileName() + "/" + dir.getFileName(), () -> runCase(dir)));
  }

  static Stream<Path> caseDirs(String root) {
    try {
      Path base = Path.of(Objects.requireNonNull(NodeCaseTest.class.getResource("/" + root)).toURI());
      try (Stream<Path> s = Files.list(base)) {
        return s.filter(p -> Files.isRegularFile(p.resolve("model.onnx"))).sorted().toList().stream();
      }
    } catch (IOException | URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static void runCase(Path dir) throws IOException {
    OnnxModel model = OnnxModel.load(dir.resolve("model.onnx"));
    String name = dir.getFileName().toString().replaceFirst("^test_", "");
    String unsupported =
        model.nodes().stream()
            .map(OnnxNode::opType)
            .filter(op -> !OpRegistry.standard().supports(op))
            .findFirst()
            .orElse(null);
    if (unsupported != null) {
      QdebugException e = assertThrows(QdebugException.class, () -> Session.open(model));
      assertTrue(
          e.getMessage().contains("unsupported op '" + unsupported + "'"),
          "error should name the op: " + e.getMessage());
      return;
    }
    if (OUT_OF_SCOPE.containsKey(name)) {
      QdebugException e =
          assertThrows(
              QdebugException.class,
              () -> {
                try (Session s = Session.open(model)) {
                  s.run(inputs(dir, model));
                }
              },
              "out of scope (" + OUT_OF_SCOPE.get(name) + ") but ran");
      // the test's own reading of an input of that type, or the engine, must say so clearly
      assertTrue(
          e.getMessage().contains("not supported")
              && (e.getMessage().contains(model.source()) || e.getMessage().contains("tensor '")),
          e.getMessage());
      return;
    }
    try (Session s = Session.open(model)) {
      Map<String, INDArray> out = s.run(inputs(dir, model));
      List<ValueInfo> outputs = model.outputs();
      for (int i = 0; i < outputs.size(); i++) {
        Path pb = dir.resolve("test_data_set_0/output_" + i + ".pb");
        if (!Files.exists(pb)) {
          continue;
        }
        INDArray expected = Tensors.fromProto(TensorProto.parseFrom(Files.readAllBytes(pb)));
        assertClose(outputs.get(i).name(), expected, out.get(outputs.get(i).name()));
      }
    }
  }

  static Map<String, INDArray> inputs(Path dir, OnnxModel model) throws IOException {
    Map<String, INDArray> in = new LinkedHashMap<>();
    List<ValueInfo> declared = model.inputs();
    for (int i = 0; i < declared.size(); i++) {
      Path pb = dir.resolve("test_data_set_0/input_" + i + ".pb");
      if (Files.exists(pb)) {
        in.put(
            declared.get(i).name(), Tensors.fromProto(TensorProto.parseFrom(Files.readAllBytes(pb))));
      }
    }
    return in;
  }

  static void assertClose(String name, INDArray expected, INDArray actual) {
    if (actual == null) {
      fail("output '" + name + "' was not produced");
    }
    assertArrayEquals(expected.shape(), actual.shape(), "shape of output '" + name + "'");
    assertEquals(expected.dataType(), actual.dataType(), "element type of output '" + name + "'");
    if (expected.length() == 0) {
      return;
    }
    DataType t = expected.dataType();
    if (t.isFPType()) {
      double[] e = expected.dup('c').castTo(DataType.DOUBLE).data().asDouble();
      double[] a = actual.dup('c').castTo(DataType.DOUBLE).data().asDouble();
      for (int k = 0; k < e.length; k++) {
        boolean ok =
            (Double.isNaN(e[k]) && Double.isNaN(a[k]))
                || e[k] == a[k]
                || Math.abs(a[k] - e[k]) <= ATOL + RTOL * Math.abs(e[k]);
        if (!ok) {
          fail(
              "output '"
                  + name
                  + "' element "
                  + k
                  + ": expected "
                  + e[k]
                  + ", got "
                  + a[k]
                  + " (first values expected "
                  + Arrays.toString(Arrays.copyOf(e, Math.min(8, e.length)))
                  + ", got "
                  + Arrays.toString(Arrays.copyOf(a, Math.min(8, a.length)))
                  + ")");
        }
      }
    } else {
      long[] e = expected.dup('c').data().asLong();
      long[] a = actual.dup('c').data().asLong();
      assertArrayEquals(e, a, "values of output '" + name + "'");
    }
  }
}
