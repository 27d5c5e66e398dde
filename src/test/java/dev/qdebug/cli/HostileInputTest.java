package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.qdebug.Cli;
import dev.qdebug.Cli.Result;
import dev.qdebug.TestModels;
import dev.qdebug.data.Npy;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.qdebug.onnx.proto.OnnxProtos.StringStringEntryProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The hostile and broken inputs of issue 9, each through the command line: exit 2 with one line
 * naming the file, node or option (or a correct result where the input is only extreme), no
 * stack trace, and every input byte-identical afterwards.
 */
class HostileInputTest {
  static final float[] W = new float[12];

  static {
    for (int i = 0; i < 12; i++) {
      W[i] = (i * 7 % 11 - 5) / 4f;
    }
  }

  @TempDir Path tmp;
  Path floatModel;
  Path data;
  Path cal;

  /** MatMul [N,4] x [4,3] then Relu, input named {@code input}. */
  static TestModels.Graph graph(String input) {
    return TestModels.graph()
        .input(input, -1, 4)
        .initializer("W", W, 4, 3)
        .node("MatMul", "mm", new String[] {input, "W"}, new String[] {"y"})
        .node("Relu", "blk/relu", new String[] {"y"}, new String[] {"blk/z"})
        .output("blk/z", -1, 3);
  }

  static void samples(Path dir, int n, float scale) {
    Nd4j.getRandom().setSeed(11);
    for (int i = 0; i < n; i++) {
      Npy.write(dir.resolve(i + ".npy"), Nd4j.randn(DataType.FLOAT, 1, 4).muli(scale));
    }
  }

  @BeforeEach
  void setUp() {
    floatModel = tmp.resolve("float.onnx");
    graph("x").model().save(floatModel);
    data = tmp.resolve("data");
    samples(data.resolve("x"), 4, 1f);
    cal = tmp.resolve("cal.onnx");
    Result r = calibrate(floatModel, data, cal);
    assertEquals(0, r.status(), r.err());
  }

  static Result calibrate(Path model, Path data, Path out, String... more) {
    List<String> a =
        new ArrayList<>(
            List.of(
                "calibrate", "--model", model.toString(), "--calibration-data", data.toString(),
                "--output", out.toString()));
    a.addAll(List.of(more));
    if (!a.contains("--method")) {
      a.addAll(List.of("--method", "max"));
    }
    return Cli.run(a.toArray(String[]::new));
  }

  /** Exit 2, one line, no stack trace, naming every one of {@code mentions}. */
  static void assertBadInput(Result r, String... mentions) {
    assertEquals(2, r.status(), r.out() + r.err());
    List<String> lines =
        r.err().lines().filter(l -> !MutationTest.PROGRESS.matcher(l).find() && !l.isBlank()).toList();
    assertEquals(1, lines.size(), "one line (after any progress bar): " + r.err());
    assertFalse(r.err().contains("Exception"), "no exception class in the line: " + r.err());
    for (String m : mentions) {
      assertTrue(r.err().contains(m), "'" + m + "' in: " + r.err());
    }
  }

  /** Every regular file under {@code dirs} and its bytes. */
  static Map<Path, byte[]> snapshot(Path... dirs) throws IOException {
    Map<Path, byte[]> m = new LinkedHashMap<>();
    for (Path d : dirs) {
      if (Files.isRegularFile(d)) {
        m.put(d, Files.readAllBytes(d));
        continue;
      }
      try (Stream<Path> s = Files.walk(d)) {
        for (Path p : s.filter(Files::isRegularFile).toList()) {
          m.put(p, Files.readAllBytes(p));
        }
      }
    }
    return m;
  }

  static void assertUnchanged(Map<Path, byte[]> before) throws IOException {
    for (Map.Entry<Path, byte[]> e : before.entrySet()) {
      assertTrue(Files.exists(e.getKey()), e.getKey() + " still there");
      assertArrayEquals(e.getValue(), Files.readAllBytes(e.getKey()), e.getKey() + " unchanged");
    }
  }

  // ---- paths derived from data ----

  @Test
  void inputNamesNeverLeadOutOfTheDataFolder() throws Exception {
    for (String name : List.of("../x", "/abs/x", "..")) {
      Path dir = tmp.resolve("case" + Math.abs(name.hashCode()));
      Path model = dir.resolve("m.onnx");
      graph(name).model().save(model);
      Path d = dir.resolve("d");
      Files.createDirectories(d);
      // where the raw name would lead: next to d, and an absolute /abs/x (absent)
      samples(dir.resolve("x"), 3, 1f);
      Map<Path, byte[]> outside = snapshot(dir.resolve("x"));
      Result r = calibrate(model, d, dir.resolve("c.onnx"));
      String folder = dev.qdebug.SafeNames.of(name);
      assertBadInput(r, "'" + folder + "'", name);
      assertFalse(folder.contains("/") || folder.equals("..") || folder.equals("."), folder);

      samples(d.resolve(folder), 3, 1f);
      Map<Path, byte[]> inputs = snapshot(d, model, dir.resolve("x"));
      assertEquals(0, calibrate(model, d, dir.resolve("c.onnx")).status());
      Path save = dir.resolve("save");
      r =
          Cli.run(
              "select-sensitive-samples", "--model", dir.resolve("c.onnx").toString(),
              "--calibration-data", d.toString(), "--num-sample", "2", "--save-dir",
              save.toString());
      assertEquals(0, r.status(), r.err());
      assertTrue(Files.isRegularFile(save.resolve("badcase_data").resolve(folder).resolve("0.npy")));
      try (Stream<Path> s = Files.walk(dir)) {
        for (Path p : s.filter(Files::isRegularFile).toList()) {
          assertTrue(
              p.startsWith(save) || inputs.containsKey(p) || p.equals(dir.resolve("c.onnx")),
              "nothing written outside the save folder: " + p);
        }
      }
      assertUnchanged(inputs);
      assertUnchanged(outside);
    }
  }

  @Test
  void tensorNamesBecomeOneFileEachEvenWhenTheyCollide() throws Exception {
    Path m = tmp.resolve("two.onnx");
    TestModels.graph()
        .input("x", -1, 4)
        .initializer("W", W, 4, 3)
        .node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"y"})
        .node("Relu", "r/1", new String[] {"y"}, new String[] {"t/1"})
        .node("Relu", "r_1", new String[] {"t/1"}, new String[] {"t_1"})
        .node("Relu", "::", new String[] {"t_1"}, new String[] {"::"})
        .output("::", -1, 3)
        .model()
        .save(m);
    Path out = tmp.resolve("o");
    Result r =
        Cli.run(
            "infer", "--model", m.toString(), "--input", data.resolve("x/0.npy").toString(),
            "--output-dir", out.toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(Files.isRegularFile(out.resolve("__.npy")), r.out());
    Path c = tmp.resolve("two_cal.onnx");
    assertEquals(0, calibrate(m, data, c).status());
    Path dist = tmp.resolve("dist");
    r =
        Cli.run(
            "plot-distribution", "--model", c.toString(), "--calibration-data", data.toString(),
            "--nodes", "r/1,r_1,::", "--save-dir", dist.toString());
    assertEquals(0, r.status(), r.err());
    try (Stream<Path> s = Files.list(dist)) {
      List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
      // r/1 writing t/1 and r_1 writing t_1 make the same name: the second gets _2
      assertTrue(names.contains("node_output_t_1_of_r_1.html"), names.toString());
      assertTrue(names.contains("node_output_t_1_of_r_1_2.html"), names.toString());
      assertTrue(names.contains("node_output____of___.html"), names.toString());
    }
  }

  // ---- outputs over inputs ----

  @Test
  void outputsNeverReplaceAnInput() throws Exception {
    Path sample = data.resolve("x/1.npy");
    Map<Path, byte[]> before = snapshot(data, floatModel, cal);

    assertBadInput(calibrate(floatModel, data, sample), "--output", sample.toString(), "sample");
    assertBadInput(calibrate(floatModel, data, floatModel), "--output", "model");
    assertBadInput(calibrate(floatModel, data, Path.of("")), "--output", "empty");

    List<String> sens =
        List.of(
            "get-sensitivity-of-nodes", "--model", cal.toString(), "--calibration-data",
            data.toString());
    assertBadInput(Cli.run(sens, "--csv", cal.toString()), "--csv", "model");
    assertBadInput(Cli.run(sens, "--csv", sample.toString()), "--csv", "sample");
    Path link = tmp.resolve("link.csv");
    Files.createSymbolicLink(link, sample);
    assertBadInput(Cli.run(sens, "--csv", link.toString()), "--csv", "resolves to", "1.npy");
    Path hard = tmp.resolve("hard.csv");
    Files.createLink(hard, cal);
    assertBadInput(Cli.run(sens, "--csv", hard.toString()), "--csv", "cal.onnx");
    assertBadInput(Cli.run(sens, "--csv", ""), "--csv", "empty");
    // a save folder whose files would land on the samples: the file is refused
    Result r =
        Cli.run(
            "get-channelwise-data-distribution", "--model", cal.toString(), "--calibration-data",
            data.toString(), "--nodes", "x_HzCalibration", "--save-dir", "");
    assertBadInput(r, "--save-dir", "empty");
    assertUnchanged(before);
    Files.delete(link);
    Files.delete(hard);
  }

  // ---- readers validate before they allocate ----

  static byte[] npy(int major, String dict, byte[] payload, long headerLenOverride) {
    byte[] h = dict.getBytes(StandardCharsets.ISO_8859_1);
    int pre = major == 1 ? 10 : 12;
    ByteBuffer b = ByteBuffer.allocate(pre + h.length + payload.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
    long len = headerLenOverride >= 0 ? headerLenOverride : h.length;
    if (major == 1) {
      b.putShort((short) len);
    } else {
      b.putInt((int) len);
    }
    b.put(h).put(payload);
    return b.array();
  }

  @Test
  void brokenNpyHeadersNameTheFile() throws Exception {
    byte[] payload = new byte[16];
    Map<String, byte[]> cases = new LinkedHashMap<>();
    cases.put(
        "header length >= 2^31",
        npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }\n", payload, 0x80000000L));
    cases.put("empty descr", npy(1, "{'descr': '', 'fortran_order': False, 'shape': (1, 4), }\n", payload, -1));
    cases.put("negative dims", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }\n", payload, -1));
    cases.put(
        "overflowing dims",
        npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", payload, -1));
    cases.put(
        "overflow to zero",
        npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 9223372036854775807, 4), }\n", new byte[0], -1));
    cases.put("unknown version", npy(9, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }\n", payload, -1));
    cases.put("trailing bytes", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }\n", payload, -1));
    for (Map.Entry<String, byte[]> c : cases.entrySet()) {
      Path d = tmp.resolve("npy" + Math.abs(c.getKey().hashCode()));
      samples(d.resolve("x"), 2, 1f);
      Path bad = d.resolve("x/1.npy");
      Files.write(bad, c.getValue());
      Map<Path, byte[]> before = snapshot(d, floatModel);
      Result r = calibrate(floatModel, d, tmp.resolve("c.onnx"));
      if (c.getKey().equals("overflow to zero")) {
        // 0 elements: a valid empty array, refused as a sample of the wrong shape
        assertBadInput(r, bad.toString());
      } else {
        assertBadInput(r, bad.toString());
      }
      assertUnchanged(before);
    }
  }

  @Test
  void devicesAndFoldersAreNotRead() throws Exception {
    Path d = tmp.resolve("dev");
    samples(d.resolve("x"), 2, 1f);
    Files.delete(d.resolve("x/1.npy"));
    Files.createSymbolicLink(d.resolve("x/1.npy"), Path.of("/dev/zero"));
    assertBadInput(calibrate(floatModel, d, tmp.resolve("c.onnx")), "1.npy", "not a regular file");
    Path m = tmp.resolve("zero.onnx");
    Files.createSymbolicLink(m, Path.of("/dev/zero"));
    assertBadInput(calibrate(m, data, tmp.resolve("c.onnx")), "zero.onnx", "not a regular file");
    assertBadInput(calibrate(data, data, tmp.resolve("c.onnx")), "folder");
  }

  @Test
  void sampleNumbersMustBeSmallIntegers() throws Exception {
    Files.copy(data.resolve("x/0.npy"), data.resolve("x/99999999999999999999.npy"));
    assertBadInput(calibrate(floatModel, data, tmp.resolve("c.onnx")), "99999999999999999999.npy");
    Files.delete(data.resolve("x/99999999999999999999.npy"));
    Files.copy(data.resolve("x/1.npy"), data.resolve("x/01.npy"));
    assertBadInput(calibrate(floatModel, data, tmp.resolve("c.onnx")), "01.npy", "1.npy");
  }

  static Path save(Path file, ModelProto p) throws IOException {
    Files.createDirectories(file.getParent());
    Files.write(file, p.toByteArray());
    return file;
  }

  static ModelProto withInitializer(ModelProto p, UnaryOperator<TensorProto> f) {
    var b = p.toBuilder();
    b.getGraphBuilder().setInitializer(0, f.apply(b.getGraph().getInitializer(0)));
    return b.build();
  }

  @Test
  void brokenModelsNameTheTensorNodeOrOpset() throws Exception {
    ModelProto good = OnnxModel.load(floatModel).proto();
    Path d = tmp.resolve("models");
    List<Object[]> cases = new ArrayList<>();
    cases.add(new Object[] {"negdims", withInitializer(good, t -> t.toBuilder().setDims(0, -4).build()), "'W'"});
    cases.add(
        new Object[] {
          "overflow",
          withInitializer(good, t -> t.toBuilder().setDims(0, 1L << 32).setDims(1, 1L << 32).build()),
          "'W'"
        });
    cases.add(
        new Object[] {
          "short payload",
          withInitializer(good, t -> t.toBuilder().setRawData(ByteString.copyFrom(new byte[8])).build()),
          "'W'"
        });
    for (long v : new long[] {1, 99, -5}) {
      var b = good.toBuilder().clearOpsetImport();
      b.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(v));
      cases.add(new Object[] {"opset" + v, b.build(), "opset " + v});
    }
    var twice = good.toBuilder();
    twice.getGraphBuilder().getNodeBuilder(1).setOutput(0, "y");
    cases.add(new Object[] {"twice", twice.build(), "'y'"});
    var emptyIn = good.toBuilder();
    emptyIn.getGraphBuilder().getNodeBuilder(1).setInput(0, "");
    cases.add(new Object[] {"empty input", emptyIn.build(), "blk/relu"});
    var dupInit = good.toBuilder();
    dupInit.getGraphBuilder().addInitializer(good.getGraph().getInitializer(0));
    cases.add(new Object[] {"dup initializer", dupInit.build(), "'W'"});
    var dupOut = good.toBuilder();
    dupOut.getGraphBuilder().addOutput(good.getGraph().getOutput(0));
    cases.add(new Object[] {"dup output", dupOut.build(), "'blk/z'"});
    var negIn = good.toBuilder();
    negIn.getGraphBuilder().getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder()
        .getShapeBuilder().getDimBuilder(1).setDimValue(-4);
    cases.add(new Object[] {"negative input dim", negIn.build(), "'x'"});
    for (Object[] c : cases) {
      Path f = save(d.resolve(c[0] + ".onnx"), (ModelProto) c[1]);
      Map<Path, byte[]> before = snapshot(f, data);
      assertBadInput(calibrate(f, data, tmp.resolve("c.onnx")), f.toString(), (String) c[2]);
      assertBadInput(
          Cli.run(
              "infer", "--model", f.toString(), "--input", data.resolve("x/0.npy").toString(),
              "--output-dir", tmp.resolve("io").toString()),
          f.toString());
      assertUnchanged(before);
    }
  }

  static ModelProto external(ModelProto p, String location, String offset, String length) {
    return withInitializer(
        p,
        t -> {
          var b = t.toBuilder().clearRawData().setDataLocation(TensorProto.DataLocation.EXTERNAL);
          b.addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(location));
          if (offset != null) {
            b.addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue(offset));
          }
          if (length != null) {
            b.addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(length));
          }
          return b.build();
        });
  }

  @Test
  void externalDataEntriesAreChecked() throws Exception {
    ModelProto good = OnnxModel.load(floatModel).proto();
    Path d = tmp.resolve("ext");
    Files.createDirectories(d);
    byte[] raw = good.getGraph().getInitializer(0).getRawData().toByteArray();
    Files.write(d.resolve("w.bin"), raw);
    Path ok = save(d.resolve("ok.onnx"), external(good, "w.bin", "0", "48"));
    Path out = d.resolve("cal.onnx");
    Result r = calibrate(ok, data, out);
    assertEquals(0, r.status(), r.err());
    assertBadInput(calibrate(ok, data, d.resolve("w.bin")), "--output", "external data");

    Object[][] cases = {
      {"offset-nan", "w.bin", "abc", "48", "offset 'abc'"},
      {"length-nan", "w.bin", "0", "4x", "length '4x'"},
      {"length-neg", "w.bin", "0", "-1", "length -1"},
      {"too-long", "w.bin", "0", "4800", "outside"},
      {"offset-far", "w.bin", "99999999999", "48", "outside"},
      {"offset-huge", "w.bin", "9223372036854775807", "48", "outside"},
      {"nul", "w\0.bin", "0", "48", "NUL"},
      {"escape", "../w.bin", "0", "48", "outside the model's folder"},
      {"missing", "none.bin", "0", "48", "not found"},
      {"folder", ".", "0", "48", "folder"},
      {"short", "w.bin", "0", "40", "'W'"},
    };
    Map<Path, byte[]> before = snapshot(d, data);
    for (Object[] c : cases) {
      Path f =
          save(
              d.resolve(c[0] + ".onnx"),
              external(good, (String) c[1], (String) c[2], (String) c[3]));
      before.put(f, Files.readAllBytes(f));
      assertBadInput(calibrate(f, data, tmp.resolve("c.onnx")), f.toString(), (String) c[4]);
    }
    assertUnchanged(before);
  }

  // ---- extreme but finite data ----

  @Test
  void extremeSamples() throws Exception {
    // MatMul then Add(y, y): y is a quantized activation; finite samples of 3e38 overflow in it
    Path m = tmp.resolve("add.onnx");
    TestModels.graph()
        .input("x", -1, 4)
        .initializer("W", W, 4, 3)
        .node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"y"})
        .node("Add", "add", new String[] {"y", "y"}, new String[] {"z"})
        .output("z", -1, 3)
        .model()
        .save(m);
    Path big = tmp.resolve("big");
    for (int i = 0; i < 3; i++) {
      Npy.write(big.resolve("x/" + i + ".npy"), Nd4j.valueArrayOf(new long[] {1, 4}, 3e38f));
    }
    for (String method : List.of("max", "default")) {
      Result r = calibrate(m, big, tmp.resolve("big.onnx"), "--method", method);
      assertBadInput(r, "'y'", "sample", big.toString());
    }
    assertFalse(Files.exists(tmp.resolve("big.onnx")));
    // the analyses on such samples: the quantized tensor that overflows is named
    Path addCal = tmp.resolve("add_cal.onnx");
    assertEquals(0, calibrate(m, data, addCal).status());
    for (String command : List.of("get-sensitivity-of-nodes", "runall")) {
      Result r =
          Cli.run(
              command, "--model", addCal.toString(), "--calibration-data", big.toString(),
              "--save-dir", tmp.resolve(command).toString());
      assertBadInput(r, "'y'", "y_HzCalibration", "overflows");
    }
    // float top-1 and bad-case mining on such samples: an error naming the overflow, never NaN
    // numbers (the quantized model alone saturates at its calibrated range, as ONNX Runtime's
    // QuantizeLinear does, and has a top-1)
    Npy.write(big.resolve("labels.npy"), Nd4j.createFromArray(new long[] {0, 1, 2}));
    for (String[] args :
        List.of(
            new String[] {"evaluate", "--float", "--model", addCal.toString(), "--dataset", big.toString()},
            new String[] {"select-sensitive-samples", "--model", addCal.toString(), "--calibration-data",
                big.toString(), "--save-dir", tmp.resolve("bad").toString()})) {
      Result r = Cli.run(args);
      assertBadInput(r, "overflow");
    }

    Path tiny = tmp.resolve("tiny");
    samples(tiny.resolve("x"), 3, 1e-42f);
    for (String more : List.of("--symmetric", "--asymmetric")) {
      Path out = tmp.resolve("tiny" + more + ".onnx");
      Result r = calibrate(m, tiny, out, more);
      assertEquals(0, r.status(), "denormal ranges get a valid scale: " + r.err());
      try (var cm = dev.qdebug.quant.CalibratedModel.load(out)) {
        for (var n : cm.nodes()) {
          for (float s : n.params().scale()) {
            assertTrue(s >= Float.MIN_NORMAL && Float.isFinite(s), n + ": scale " + s);
          }
        }
      }
    }
  }

  // ---- accepted-but-wrong ----

  @Test
  void wrongOptionsAreErrors() throws Exception {
    List<String> sens =
        List.of(
            "get-sensitivity-of-nodes", "--model", cal.toString(), "--calibration-data",
            data.toString());
    assertBadInput(Cli.run(sens, "--metrics", "mse,mse"), "--metrics", "mse");
    assertBadInput(Cli.run(sens, "--interested-nodes", "mm+"), "--interested-nodes", "mm+");
    assertBadInput(Cli.run(sens, "--interested-nodes", "+mm"), "--interested-nodes");
    assertBadInput(Cli.run(sens, "--interested-nodes", "mm,,blk/relu"), "--interested-nodes");
    assertBadInput(Cli.run(sens, "--data-num", "-1"), "--data-num", "-1");
    assertBadInput(calibrate(floatModel, data, tmp.resolve("c.onnx"), "--data-num", "-3"), "--data-num");
    assertBadInput(
        calibrate(floatModel, data, tmp.resolve("c.onnx"), "--weight-bits", "3"),
        "--weight-bits", "4, 8, 16");
    assertBadInput(
        calibrate(floatModel, data, tmp.resolve("c.onnx"), "--activation-bits", "4"),
        "--activation-bits", "8, 16");
    assertBadInput(
        Cli.run(
            "evaluate", "--model", cal.toString(), "--dataset", data.toString(), "--data-num", "-2"),
        "--data-num");
    assertBadInput(
        Cli.run(
            "select-sensitive-samples", "--model", cal.toString(), "--calibration-data",
            data.toString(), "--num-sample", "-1"),
        "--num-sample");
  }

  @Test
  void labelsOutsideTheClassesNameFileAndSample() throws Exception {
    Path labeled = tmp.resolve("labeled");
    samples(labeled.resolve("x"), 4, 1f);
    Npy.write(labeled.resolve("labels.npy"), Nd4j.createFromArray(new long[] {0, 2, 3, 1}));
    Result r = Cli.run("evaluate", "--model", cal.toString(), "--dataset", labeled.toString());
    assertBadInput(r, "labels.npy", "sample 2", "label 3", "[0, 3)");
    Npy.write(labeled.resolve("labels.npy"), Nd4j.createFromArray(new long[] {0, 2, -1, 1}));
    r = Cli.run("evaluate", "--model", cal.toString(), "--dataset", labeled.toString());
    assertBadInput(r, "labels.npy", "sample 2", "label -1");
    Npy.write(labeled.resolve("labels.npy"), Nd4j.createFromArray(new long[] {0, 2, 1, 1}));
    r = Cli.run("evaluate", "--model", cal.toString(), "--dataset", labeled.toString());
    assertEquals(0, r.status(), r.err());
  }

  @Test
  void nonFiniteInputsToInfer() throws Exception {
    Path in = tmp.resolve("nan.npy");
    Npy.write(in, Nd4j.createFromArray(new float[][] {{1, Float.NaN, 2, 3}}));
    Path out = tmp.resolve("inf_out");
    Result r =
        Cli.run("infer", "--model", floatModel.toString(), "--input", "x=" + in, "--output-dir", out.toString());
    assertBadInput(r, "nan.npy", "'x'", "flat index 1", "--allow-nonfinite");
    assertFalse(Files.exists(out));
    r =
        Cli.run(
            "infer", "--model", floatModel.toString(), "--input", "x=" + in, "--output-dir",
            out.toString(), "--allow-nonfinite");
    assertEquals(0, r.status(), r.err());
    assertTrue(Files.isRegularFile(out.resolve("blk_z.npy")));
    assertBadInput(
        Cli.run("infer", "--model", floatModel.toString(), "--input", "x=" + in, "--output-dir", ""),
        "--output-dir", "empty");
  }
}
