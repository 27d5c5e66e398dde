package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.onnxruntime.OrtException;
import dev.qdebug.ModelException;
import dev.qdebug.Ort;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.ValueInfo;
import dev.qdebug.onnx.proto.OnnxProtos.GraphProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.StringStringEntryProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The engine against ONNX Runtime (the independent reference) on the real models in {@code
 * src/test/resources/models/} (made by {@code scripts/make_test_models.py}, see its README.md).
 *
 * <p>Each model is fed the same seeded random input at batch 1 and batch 4; every graph output and
 * intermediate tensors (the first of each op type and a few more) must agree within max |a - b| <=
 * 1e-4 * max(1, max |b|), b being ORT's tensor. ORT returns only graph outputs, so it runs a copy
 * of the model with the chosen intermediates added to {@code graph.output}; the engine runs the
 * original model and is asked for the same tensors by name. ORT runs with every graph optimisation
 * off ({@code NO_OPT}) so that it computes the graph as written. Intermediates are listed in
 * execution order, so the first one that disagrees points at the op at fault.
 *
 * <p>A model declaring a fixed batch of 1 runs batch 4 in the engine (which accepts any batch) and
 * is compared, sample by sample, with four batch-1 runs of ORT (which refuses other batches).
 */
class OrtParityTest {
  static final double RTOL = 1e-4;
  static final long SEED = 20240607L;
  static final int[] BATCHES = {1, 4};

  /** Intermediates checked besides the first output of each op type: spread over the graph. */
  static final int SPREAD_TAPS = 6;

  static final List<String> EXPECTED_MODELS =
      List.of(
          "repvgg_like_op13.onnx",
          "mnasnet_like_op13.onnx",
          "mobilevit_like_op13.onnx",
          "mobilevit_like_op17.onnx",
          "opsets_cnn_op9.onnx",
          "opsets_cnn_op11.onnx",
          "opsets_cnn_op13.onnx",
          "opsets_cnn_op17.onnx",
          "fixed_batch_cnn_op13.onnx");

  static Path modelsDir() {
    try {
      return Path.of(
          Objects.requireNonNull(OrtParityTest.class.getResource("/models"), "models/ missing")
              .toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static List<Path> models() throws IOException {
    try (Stream<Path> s = Files.list(modelsDir())) {
      return s.filter(p -> p.getFileName().toString().endsWith(".onnx"))
          .filter(Files::isRegularFile)
          .sorted()
          .toList();
    }
  }

  @Test
  void everyExpectedModelIsPresent() throws IOException {
    List<String> names = models().stream().map(p -> p.getFileName().toString()).toList();
    for (String m : EXPECTED_MODELS) {
      assertTrue(
          names.contains(m),
          m + " missing from src/test/resources/models: run " + "scripts/make_test_models.py");
    }
    assertTrue(Files.isRegularFile(modelsDir().resolve("external/external_cnn.onnx")));
    assertTrue(Files.isRegularFile(modelsDir().resolve("external/external_cnn.onnx.data")));
  }

  @TestFactory
  Stream<DynamicTest> matchesOrt() throws IOException {
    return models().stream()
        .flatMap(
            path ->
                Arrays.stream(BATCHES)
                    .mapToObj(
                        batch ->
                            DynamicTest.dynamicTest(
                                path.getFileName() + " batch " + batch,
                                () -> checkModel(path, batch, true))));
  }

  @Test
  void externalDataModelMatchesOrt() throws Exception {
    Path path = modelsDir().resolve("external/external_cnn.onnx");
    OnnxModel model = OnnxModel.load(path);
    assertFalse(model.initializers().isEmpty());
    for (TensorProto t : model.initializers().values()) {
      assertEquals(TensorProto.DataLocation.DEFAULT, t.getDataLocation(), t.getName());
      assertTrue(t.getExternalDataCount() == 0, t.getName() + " still points at external data");
    }
    // ORT reads the external file itself here (the model is loaded from its path, not from bytes)
    for (int batch : BATCHES) {
      checkModel(path, batch, false);
    }
  }

  @Test
  void externalDataOutsideTheModelFolderIsRefused(@TempDir Path tmp) throws IOException {
    Path original = modelsDir().resolve("external/external_cnn.onnx");
    ModelProto proto = ModelProto.parseFrom(Files.readAllBytes(original));
    // the data file exists where the location leads, so only the confinement rule can refuse it
    Files.copy(original.resolveSibling("external_cnn.onnx.data"), tmp.resolve("escape.data"));
    Path dir = Files.createDirectories(tmp.resolve("model"));

    Path escaping = dir.resolve("escape_cnn.onnx");
    String first = writeWithLocation(proto, "../escape.data", escaping);
    ModelException e = assertThrows(ModelException.class, () -> OnnxModel.load(escaping));
    assertTrue(e.getMessage().contains("tensor '" + first + "'"), e.getMessage());
    assertTrue(e.getMessage().contains("leads outside the model's folder"), e.getMessage());
    assertTrue(e.getMessage().contains(escaping.toString()), e.getMessage());

    Path absolute = dir.resolve("absolute_cnn.onnx");
    writeWithLocation(proto, tmp.resolve("escape.data").toAbsolutePath().toString(), absolute);
    e = assertThrows(ModelException.class, () -> Session.open(absolute));
    assertTrue(e.getMessage().contains("tensor '" + first + "'"), e.getMessage());
    assertTrue(e.getMessage().contains("is absolute"), e.getMessage());
  }

  /** Writes {@code proto} with every external location set to {@code location}; the first name. */
  static String writeWithLocation(ModelProto proto, String location, Path file) throws IOException {
    GraphProto.Builder g = proto.getGraph().toBuilder();
    String first = null;
    for (TensorProto.Builder t : g.getInitializerBuilderList()) {
      if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
        continue;
      }
      first = first == null ? t.getName() : first;
      for (StringStringEntryProto.Builder kv : t.getExternalDataBuilderList()) {
        if (kv.getKey().equals("location")) {
          kv.setValue(location);
        }
      }
    }
    assertTrue(first != null, "the external-data model has no external tensor");
    Files.write(file, proto.toBuilder().setGraph(g).build().toByteArray());
    return first;
  }

  // ---------------------------------------------------------------- the comparison

  /**
   * Runs {@code path} in ORT and in the engine on one seeded input of {@code batch} samples and
   * compares every graph output and, when {@code taps}, the intermediates of {@link #chooseTaps}.
   * ORT runs first, so a model the engine cannot compile still proves the reference side works.
   */
  static void checkModel(Path path, int batch, boolean taps) throws OrtException {
    OnnxModel model = OnnxModel.load(path);
    List<String> outputs = model.outputs().stream().map(ValueInfo::name).toList();
    List<String> tapNames = taps ? chooseTaps(model) : List.of();
    List<String> wanted = new ArrayList<>(outputs);
    wanted.addAll(tapNames);

    Map<String, float[]> feeds = new LinkedHashMap<>();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    Random random = new Random(SEED + 31L * batch + path.getFileName().toString().hashCode());
    for (ValueInfo in : model.inputs()) {
      assertEquals(ElemType.FLOAT, in.type(), "input " + in.name());
      long[] shape = in.shape().clone();
      shape[0] = batch;
      for (int d = 1; d < shape.length; d++) {
        assertTrue(shape[d] > 0, path + ": input " + in.name() + " has a free dimension " + d);
      }
      float[] x = new float[(int) count(shape)];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) random.nextGaussian();
      }
      feeds.put(in.name(), x);
      shapes.put(in.name(), shape);
    }

    Map<String, Result> expected;
    try (Ort.Runner ort =
        taps ? Ort.Runner.open(Ort.withOutputs(model.proto(), tapNames)) : Ort.Runner.open(path)) {
      long declared = model.inputs().get(0).shape()[0];
      if (declared > 0 && declared != batch) {
        assertThrows(
            OrtException.class,
            () -> runOrt(ort, feeds, shapes, wanted),
            "ORT should refuse batch " + batch + " for a model declaring batch " + declared);
        expected = runOrtPerSample(ort, feeds, shapes, wanted, (int) declared);
      } else {
        expected = runOrt(ort, feeds, shapes, wanted);
      }
    }

    Map<String, INDArray> actual;
    try (Session session = Session.open(model)) {
      Map<String, INDArray> in = new LinkedHashMap<>();
      feeds.forEach(
          (name, x) -> in.put(name, Nd4j.createFromArray(x).reshape('c', shapes.get(name))));
      actual = session.run(in, RunOptions.outputs(wanted));
    }

    List<String> problems = new ArrayList<>();
    for (String name : wanted) {
      String kind = outputs.contains(name) ? "output" : "intermediate";
      String p = compare(expected.get(name), actual.get(name));
      if (p != null) {
        problems.add(kind + " '" + name + "': " + p);
      }
    }
    if (!problems.isEmpty()) {
      fail(
          path.getFileName()
              + " batch "
              + batch
              + ": "
              + problems.size()
              + " of "
              + wanted.size()
              + " tensors differ from ONNX Runtime (in execution order):\n  "
              + String.join("\n  ", problems));
    }
  }

  /** A tensor from ORT: its shape and values (c order). */
  record Result(long[] shape, float[] values) {}

  static Map<String, Result> runOrt(
      Ort.Runner ort, Map<String, float[]> feeds, Map<String, long[]> shapes, List<String> wanted)
      throws OrtException {
    Map<String, INDArray> in = new LinkedHashMap<>();
    feeds.forEach(
        (name, x) -> in.put(name, Nd4j.createFromArray(x).reshape('c', shapes.get(name))));
    Map<String, Result> out = new LinkedHashMap<>();
    ort.run(in, wanted)
        .forEach(
            (name, t) -> {
              assertEquals(DataType.FLOAT, t.dataType(), "ORT tensor '" + name + "' is not float");
              out.put(name, new Result(t.shape(), t.dup('c').data().asFloat()));
            });
    return out;
  }

  /** ORT on a model with a fixed batch: one run per {@code step} samples, results concatenated. */
  static Map<String, Result> runOrtPerSample(
      Ort.Runner ort,
      Map<String, float[]> feeds,
      Map<String, long[]> shapes,
      List<String> wanted,
      int step)
      throws OrtException {
    long batch = shapes.values().iterator().next()[0];
    Map<String, List<Result>> parts = new LinkedHashMap<>();
    for (int s = 0; s < batch; s += step) {
      Map<String, float[]> sub = new LinkedHashMap<>();
      Map<String, long[]> subShapes = new LinkedHashMap<>();
      for (Map.Entry<String, float[]> f : feeds.entrySet()) {
        long[] shape = shapes.get(f.getKey()).clone();
        int per = (int) (count(shape) / shape[0]);
        shape[0] = step;
        sub.put(f.getKey(), Arrays.copyOfRange(f.getValue(), s * per, (s + step) * per));
        subShapes.put(f.getKey(), shape);
      }
      runOrt(ort, sub, subShapes, wanted)
          .forEach((k, v) -> parts.computeIfAbsent(k, x -> new ArrayList<>()).add(v));
    }
    Map<String, Result> out = new LinkedHashMap<>();
    parts.forEach(
        (name, list) -> {
          long[] shape = list.get(0).shape().clone();
          shape[0] *= list.size();
          float[] all = new float[(int) count(shape)];
          int at = 0;
          for (Result r : list) {
            System.arraycopy(r.values(), 0, all, at, r.values().length);
            at += r.values().length;
          }
          out.put(name, new Result(shape, all));
        });
    return out;
  }

  /** Null when {@code actual} matches {@code expected}, else what differs. */
  static String compare(Result expected, INDArray actual) {
    if (actual == null) {
      return "not produced by the engine";
    }
    if (!Arrays.equals(expected.shape(), actual.shape())) {
      return "shape "
          + Arrays.toString(actual.shape())
          + ", ORT "
          + Arrays.toString(expected.shape());
    }
    if (actual.dataType() != DataType.FLOAT) {
      return "element type " + actual.dataType() + ", ORT FLOAT";
    }
    float[] a = actual.dup('c').data().asFloat();
    float[] b = expected.values();
    double maxRef = 0;
    for (float v : b) {
      maxRef = Math.max(maxRef, Math.abs(v));
    }
    double worst = -1;
    int at = -1;
    for (int i = 0; i < b.length; i++) {
      double d = Math.abs((double) a[i] - b[i]);
      if (Double.isNaN(d) && !(Float.isNaN(a[i]) && Float.isNaN(b[i]))) {
        d = Double.POSITIVE_INFINITY;
      }
      if (d > worst) {
        worst = d;
        at = i;
      }
    }
    double limit = RTOL * Math.max(1, maxRef);
    if (at < 0 || worst <= limit) {
      return null;
    }
    return String.format(
        "max |diff| %.3g > %.3g (1e-4 * max(1, max|ORT| = %.4g)) at flat index %d: engine %s, ORT"
            + " %s; shape %s",
        worst, limit, maxRef, at, a[at], b[at], Arrays.toString(expected.shape()));
  }

  static long count(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  // ---------------------------------------------------------------- intermediate tensors

  /**
   * The intermediates to check, in file order: float tensors computed from the graph input (not
   * constants, not graph outputs); the first such output of each op type (and mode), and {@link
   * #SPREAD_TAPS} more spread evenly over the graph.
   */
  static List<String> chooseTaps(OnnxModel model) {
    Map<String, ElemType> types = inferTypes(model);
    Set<String> dynamic = new HashSet<>();
    model.inputs().forEach(v -> dynamic.add(v.name()));
    Set<String> outputs = new HashSet<>();
    model.outputs().forEach(v -> outputs.add(v.name()));
    List<OnnxNode> candidates = new ArrayList<>();
    for (OnnxNode n : model.nodes()) {
      if (n.inputs().stream().anyMatch(dynamic::contains)) {
        n.outputs().stream().filter(o -> !o.isEmpty()).forEach(dynamic::add);
        String out = n.outputs().get(0);
        if (types.get(out) == ElemType.FLOAT && !outputs.contains(out)) {
          candidates.add(n);
        }
      }
    }
    Set<OnnxNode> chosen = new LinkedHashSet<>();
    Set<String> seen = new HashSet<>();
    for (OnnxNode n : candidates) {
      // one per op type and mode: nearest and linear Resize, constant and reflect Pad
      if (seen.add(n.opType() + "/" + n.attrString("mode", ""))) {
        chosen.add(n);
      }
    }
    int want = Math.min(chosen.size() + SPREAD_TAPS, candidates.size());
    for (int j = 0; j < SPREAD_TAPS; j++) {
      chosen.add(candidates.get((int) ((2L * j + 1) * candidates.size() / (2L * SPREAD_TAPS))));
    }
    for (int i = 0; chosen.size() < want; i++) {
      chosen.add(candidates.get(i));
    }
    Map<OnnxNode, Integer> order = new HashMap<>();
    for (int i = 0; i < candidates.size(); i++) {
      order.put(candidates.get(i), i);
    }
    return chosen.stream()
        .sorted((x, y) -> Integer.compare(order.get(x), order.get(y)))
        .map(n -> n.outputs().get(0))
        .toList();
  }

  /** Element types of the tensors of {@code model}, propagated in file order (enough here). */
  static Map<String, ElemType> inferTypes(OnnxModel model) {
    Map<String, ElemType> t = new HashMap<>();
    model.inputs().forEach(v -> t.put(v.name(), v.type()));
    model.initializers().forEach((name, p) -> t.put(name, ElemType.of(p.getDataType())));
    for (OnnxNode n : model.nodes()) {
      ElemType out =
          switch (n.opType()) {
            case "Shape", "Size", "NonZero", "ArgMax", "ArgMin" -> ElemType.INT64;
            case "Equal",
                "Less",
                "LessOrEqual",
                "Greater",
                "GreaterOrEqual",
                "Not",
                "And",
                "Or",
                "Xor",
                "IsNaN",
                "IsInf" ->
                ElemType.BOOL;
            case "Cast" -> ElemType.of((int) n.attrInt("to"));
            case "Constant" ->
                n.attrTensor("value")
                    .map(v -> ElemType.of(v.getDataType()))
                    .orElse(ElemType.UNDEFINED);
            case "ConstantOfShape" ->
                n.attrTensor("value").map(v -> ElemType.of(v.getDataType())).orElse(ElemType.FLOAT);
            case "Where" -> t.getOrDefault(n.input(1), ElemType.UNDEFINED);
            default ->
                n.inputs().isEmpty()
                    ? ElemType.UNDEFINED
                    : t.getOrDefault(n.input(0), ElemType.UNDEFINED);
          };
      for (String o : n.outputs()) {
        t.put(o, out);
      }
    }
    return t;
  }
}
