package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.qdebug.Cli;
import dev.qdebug.Cli.Result;
import dev.qdebug.data.Npy;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import dev.qdebug.onnx.proto.OnnxProtos.ValueInfoProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The project's own mutation test (issue 9): a seeded loop over truncated, bit-flipped and
 * overwritten copies of a small float model, its calibrated model, a sample and the labels, and
 * over structural mutations of the models (a removed initializer or node, a renamed input, a
 * duplicated output, wrong dims, an opset out of range, an unknown op, an empty or dangling node
 * input, another input type), each against one of the commands, run in-process. The property:
 * exit 0 with a complete output, or exit 2 with exactly one line that names the file, a node or
 * tensor ('...'), or an option (--...); never exit 1; every input byte-identical afterwards.
 */
class MutationTest {
  static final long SEED = Long.getLong("qdebug.mutation.seed", 20261207L);
  static final int CASES = Integer.getInteger("qdebug.mutation.cases", 140);

  static final java.util.regex.Pattern PROGRESS =
      java.util.regex.Pattern.compile("^\\r?[a-z-]+ +\\[[#.]*\\] +\\d+/\\d+");

  @TempDir Path tmp;

  /** The pristine artifacts: float.onnx, cal.onnx, data/x/i.npy, data/labels.npy. */
  Path pristine;

  void makePristine() {
    makePristine(false);
  }

  /**
   * The artifacts: the MatMul model, or ({@code conv}) a small CNN with attributes to mutate:
   * Conv (named mm, weight W) - Relu - MaxPool - Reshape - Gemm.
   */
  void makePristine(boolean conv) {
    pristine = tmp.resolve(conv ? "pristine-conv" : "pristine");
    (conv ? convGraph() : HostileInputTest.graph("x")).model().save(pristine.resolve("float.onnx"));
    Nd4j.getRandom().setSeed(5);
    for (int i = 0; i < 3; i++) {
      long[] shape = conv ? new long[] {1, 1, 6, 6} : new long[] {1, 4};
      Npy.write(pristine.resolve("data/x/" + i + ".npy"), Nd4j.randn(DataType.FLOAT, shape));
    }
    Npy.write(pristine.resolve("data/labels.npy"), Nd4j.createFromArray(new long[] {0, 2, 1}));
    Result r =
        Cli.run(
            "calibrate", "--model", pristine.resolve("float.onnx").toString(),
            "--calibration-data", pristine.resolve("data").toString(), "--output",
            pristine.resolve("cal.onnx").toString(), "--method", "max");
    assertEquals(0, r.status(), r.err());
  }

  static dev.qdebug.TestModels.Graph convGraph() {
    float[] w = new float[18];
    float[] w2 = new float[54];
    for (int i = 0; i < w.length; i++) {
      w[i] = (i * 5 % 7 - 3) / 3f;
    }
    for (int i = 0; i < w2.length; i++) {
      w2[i] = (i * 7 % 13 - 6) / 6f;
    }
    return dev.qdebug.TestModels.graph()
        .input("x", -1, 1, 6, 6)
        .initializer("W", w, 2, 1, 3, 3)
        .initializer("B", new float[] {0.1f, -0.1f}, 2)
        .raw(longs("shape2", new long[] {-1, 18}))
        .initializer("W2", w2, 18, 3)
        .node("Conv", "mm", new String[] {"x", "W", "B"}, new String[] {"y"},
            dev.qdebug.TestModels.ints("kernel_shape", 3, 3), dev.qdebug.TestModels.ints("pads", 1, 1, 1, 1),
            dev.qdebug.TestModels.ints("strides", 1, 1))
        .node("Relu", "blk/relu", new String[] {"y"}, new String[] {"r"})
        .node("MaxPool", "pool", new String[] {"r"}, new String[] {"p"},
            dev.qdebug.TestModels.ints("kernel_shape", 2, 2), dev.qdebug.TestModels.ints("strides", 2, 2))
        .node("Reshape", "rs", new String[] {"p", "shape2"}, new String[] {"f"})
        .node("Gemm", "fc", new String[] {"f", "W2"}, new String[] {"blk/z"})
        .output("blk/z", -1, 3);
  }

  static TensorProto longs(String name, long[] v) {
    TensorProto.Builder t =
        TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64_VALUE).addDims(v.length);
    for (long x : v) {
      t.addInt64Data(x);
    }
    return t.build();
  }

  /** A command over the artifacts in {@code dir}, writing under {@code out}. */
  record Command(String name, boolean usesFloat, boolean usesLabels) {
    String[] args(Path dir, Path out) {
      String model = dir.resolve(usesFloat ? "float.onnx" : "cal.onnx").toString();
      String data = dir.resolve("data").toString();
      String o = out.toString();
      return switch (name) {
        case "infer" -> new String[] {
          "infer", "--model", model, "--input", "x=" + dir.resolve("data/x/0.npy"),
          "--output-dir", o
        };
        case "calibrate" -> new String[] {
          "calibrate", "--model", model, "--calibration-data", data, "--output",
          out.resolve("c.onnx").toString(), "--method", "max"
        };
        case "evaluate" -> new String[] {"evaluate", "--model", model, "--dataset", data};
        case "get-sensitivity-of-nodes" -> new String[] {
          name, "--model", model, "--calibration-data", data, "--csv",
          out.resolve("s.csv").toString()
        };
        case "plot-distribution" -> new String[] {
          name, "--model", model, "--calibration-data", data, "--nodes", "mm,x_HzCalibration",
          "--save-dir", o
        };
        case "get-channelwise-data-distribution" -> new String[] {
          name, "--model", model, "--calibration-data", data, "--nodes", "W_HzCalibration",
          "--save-dir", o
        };
        case "select-sensitive-samples" -> new String[] {
          name, "--model", model, "--calibration-data", data, "--num-sample", "1", "--save-dir", o
        };
        case "partial-quantization" -> new String[] {
          name, "--model", model, "--calibration-data", data, "--dataset", data, "--save-dir", o
        };
        case "diagnose" -> new String[] {
          name, "--model", model, "--calibration-data", data, "--dataset", data, "--save-dir", o,
          "--output", out.resolve("fixed.onnx").toString(), "--top", "2"
        };
        default -> new String[] {name, "--model", model, "--calibration-data", data, "--save-dir", o};
      };
    }
  }

  static final List<Command> COMMANDS =
      List.of(
          new Command("infer", true, false),
          new Command("calibrate", true, false),
          new Command("infer", false, false),
          new Command("evaluate", false, true),
          new Command("get-sensitivity-of-nodes", false, false),
          new Command("plot-distribution", false, false),
          new Command("get-channelwise-data-distribution", false, false),
          new Command("get-calibration-nodes-stat-info", false, false),
          new Command("layer-error", false, false),
          new Command("select-sensitive-samples", false, false),
          new Command("plot-acc-error", false, false),
          new Command("sensitivity-analysis", false, false),
          new Command("partial-quantization", false, true),
          new Command("runall", false, false),
          new Command("diagnose", false, true));

  @Test
  void everyMutationGivesACorrectResultOrOneClearLine() throws Exception {
    mutations(false, SEED, CASES);
  }

  @Test
  void everyMutationOfACnnGivesACorrectResultOrOneClearLine() throws Exception {
    mutations(true, SEED + 2, CASES / 2);
  }

  void mutations(boolean conv, long seed, int cases) throws Exception {
    makePristine(conv);
    Random rnd = new Random(seed);
    int ok = 0;
    int bad = 0;
    for (int i = 0; i < cases; i++) {
      Path dir = tmp.resolve("case" + i);
      copy(pristine, dir);
      String target =
          switch (rnd.nextInt(6)) {
            case 0, 1 -> "float.onnx";
            case 2, 3 -> "cal.onnx";
            case 4 -> "data/x/" + rnd.nextInt(3) + ".npy";
            default -> "data/labels.npy";
          };
      Path file = dir.resolve(target);
      String what = mutate(file, rnd);
      Command c;
      if (target.equals("float.onnx")) {
        c = COMMANDS.get(rnd.nextInt(2));
      } else if (target.equals("data/labels.npy")) {
        c = rnd.nextBoolean() ? COMMANDS.get(3) : COMMANDS.get(12);
      } else {
        c = COMMANDS.get(2 + rnd.nextInt(COMMANDS.size() - 2));
        if (c.name().equals("runall") && rnd.nextInt(3) != 0) {
          c = COMMANDS.get(4); // runall is the slowest: a third of its draws
        }
      }
      Map<Path, byte[]> before = HostileInputTest.snapshot(dir);
      Path out = tmp.resolve("out" + i);
      String[] args = c.args(dir, out);
      Result r = Cli.run(args);
      String label = (conv ? "cnn " : "") + "case " + i + " (seed " + seed + "): " + what + " of " + target + ", "
          + String.join(" ", args) + "\nstatus " + r.status() + ", stderr:\n" + r.err();
      if (r.status() == 0) {
        ok++;
        assertOutputComplete(c, out, label);
      } else if (r.status() == 2) {
        bad++;
        // progress bars share the error stream; the error is one line after them
        List<String> lines =
            r.err().lines().filter(l -> !PROGRESS.matcher(l).find() && !l.isBlank()).toList();
        assertEquals(1, lines.size(), "one line: " + label);
        String line = lines.get(0);
        assertTrue(line.startsWith("qdebug: "), label);
        assertFalse(line.contains("Exception") || line.contains("\tat "), "no exception: " + label);
        assertTrue(
            line.contains(file.getFileName().toString())
                || line.contains("--")
                || line.contains("'"),
            "names the file, a node or an option: " + label);
      } else {
        fail("exit " + r.status() + ": " + label);
      }
      HostileInputTest.assertUnchanged(before);
      try (Stream<Path> s = Files.walk(dir)) {
        assertEquals(before.size(), s.filter(Files::isRegularFile).count(), "no new input files: " + label);
      }
    }
    assertTrue(ok > 0 && bad > 0, "both outcomes occur: " + ok + " ok, " + bad + " refused");
  }

  /** Values an option may be given by mistake or malice. */
  static final String[] ODD_VALUES = {
    "", "-1", "0", "abc", "99999999999", "+", ",", "../x", "mm+", "NaN", "1e309", "-0.5",
    "x_HzCalibration,x_HzCalibration", "\u0000", "mm,,blk/relu"
  };

  /** Extra options some commands take, to mutate too. */
  static final String[][] EXTRA = {
    {"--data-num", "1"}, {"--metrics", "mse"}, {"--metric", "cosine-similarity"},
    {"--node-type", "weight"}, {"--interested-nodes", "mm"}, {"--output-node", "mm"},
    {"--num-sample", "1"}, {"--pick-threshold", "0.9"}, {"--target", "0.5"}, {"--axis", "1"},
    {"--nodes", "mm"}, {"--quantize-node", "mm"}, {"--non-quantize-node", "mm"},
    {"--percentile", "99"}, {"--weight-bits", "8"}, {"--activation-bits", "16"},
    {"--eval-num", "1"}, {"--sensitive-nodes", "mm"}, {"--non-quantize-nodes", "mm"}
  };

  @Test
  void everyOddOptionValueGivesACorrectResultOrOneClearLine() throws Exception {
    makePristine();
    Random rnd = new Random(SEED + 1);
    Map<Path, byte[]> before = HostileInputTest.snapshot(pristine);
    int cases = Math.max(20, CASES / 2);
    for (int i = 0; i < cases; i++) {
      Command c = COMMANDS.get(rnd.nextInt(COMMANDS.size() - 1)); // runall aside: slow
      Path out = tmp.resolve("opt" + i);
      List<String> args = new java.util.ArrayList<>(List.of(c.args(pristine, out)));
      String[] extra = EXTRA[rnd.nextInt(EXTRA.length)];
      args.addAll(List.of(extra));
      // one option's value (or the added one) replaced by an odd value
      List<Integer> values = new java.util.ArrayList<>();
      for (int k = 2; k < args.size(); k++) {
        if (args.get(k - 1).startsWith("--") && !args.get(k).startsWith("--")
            && !args.get(k - 1).equals("--model") && !args.get(k - 1).equals("--calibration-data")
            && !args.get(k - 1).equals("--dataset")) {
          values.add(k);
        }
      }
      int at = values.get(rnd.nextInt(values.size()));
      String odd = ODD_VALUES[rnd.nextInt(ODD_VALUES.length)];
      if (OptionChecks.OUTPUTS.contains(args.get(at - 1))) {
        odd = ""; // no relative paths: they would land in the working directory
      }
      args.set(at, odd);
      Result r = Cli.run(args.toArray(String[]::new));
      String label = "option case " + i + " (seed " + SEED + "): " + args.get(at - 1) + " '"
          + odd + "' in " + String.join(" ", args) + "\nstatus " + r.status() + ", stderr:\n"
          + r.err();
      if (r.status() == 2) {
        List<String> lines =
            r.err().lines().filter(l -> !PROGRESS.matcher(l).find() && !l.isBlank()).toList();
        assertEquals(1, lines.size(), "one line: " + label);
        assertFalse(lines.get(0).contains("Exception"), label);
        assertTrue(lines.get(0).contains("--") || lines.get(0).contains("'"), label);
      } else if (r.status() != 0) {
        fail("exit " + r.status() + ": " + label);
      }
      HostileInputTest.assertUnchanged(before);
    }
  }

  static void assertOutputComplete(Command c, Path out, String label) throws IOException {
    switch (c.name()) {
      case "evaluate" -> {}
      case "calibrate" -> OnnxModel.load(out.resolve("c.onnx"));
      case "infer" -> {
        try (Stream<Path> s = Files.list(out)) {
          List<Path> files = s.toList();
          assertFalse(files.isEmpty(), label);
          for (Path f : files) {
            Npy.read(f);
          }
        }
      }
      case "get-sensitivity-of-nodes" ->
          assertTrue(Files.readString(out.resolve("s.csv")).startsWith("node"), label);
      case "diagnose" -> {
        OnnxModel.load(out.resolve("fixed.onnx"));
        assertTrue(Files.isRegularFile(out.resolve("diagnose_summary.csv")), label);
      }
      default -> {
        assertTrue(Files.isDirectory(out), label);
        try (Stream<Path> s = Files.walk(out)) {
          for (Path f : s.filter(Files::isRegularFile).toList()) {
            assertFalse(f.getFileName().toString().endsWith(".tmp"), "no temporary file: " + f);
            assertTrue(Files.size(f) > 0, "not empty: " + f + " " + label);
          }
        }
      }
    }
  }

  static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path q = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(q);
        } else {
          Files.copy(p, q);
        }
      }
    }
  }

  /** Applies one random mutation to {@code file}; says which. */
  static String mutate(Path file, Random rnd) throws IOException {
    byte[] b = Files.readAllBytes(file);
    boolean model = file.toString().endsWith(".onnx");
    int kind = rnd.nextInt(model ? 5 : 3);
    switch (kind) {
      case 0 -> {
        int n = rnd.nextInt(b.length);
        Files.write(file, Arrays.copyOf(b, n));
        return "truncated to " + n + " bytes";
      }
      case 1 -> {
        int flips = 1 + rnd.nextInt(4);
        StringBuilder at = new StringBuilder();
        for (int k = 0; k < flips; k++) {
          int pos = rnd.nextInt(b.length);
          int bit = rnd.nextInt(8);
          b[pos] ^= (byte) (1 << bit);
          at.append(pos).append('.').append(bit).append(' ');
        }
        Files.write(file, b);
        return "bits flipped at " + at.toString().strip();
      }
      case 2 -> {
        int pos = rnd.nextInt(b.length);
        int len = 1 + rnd.nextInt(Math.min(16, b.length - pos));
        for (int k = 0; k < len; k++) {
          b[pos + k] = (byte) rnd.nextInt(256);
        }
        Files.write(file, b);
        return "bytes " + pos + ".." + (pos + len - 1) + " overwritten";
      }
      default -> {
        ModelProto p = ModelProto.parseFrom(b);
        Structural s = Structural.values()[rnd.nextInt(Structural.values().length)];
        Files.write(file, s.apply(p, rnd).toByteArray());
        return "structural " + s;
      }
    }
  }

  /** Structural mutations of a model. */
  enum Structural {
    REMOVE_INITIALIZER {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        var b = p.toBuilder();
        if (b.getGraph().getInitializerCount() > 0) {
          b.getGraphBuilder().removeInitializer(rnd.nextInt(b.getGraph().getInitializerCount()));
        }
        return b.build();
      }
    },
    REMOVE_NODE {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        var b = p.toBuilder();
        b.getGraphBuilder().removeNode(rnd.nextInt(b.getGraph().getNodeCount()));
        return b.build();
      }
    },
    RENAME_INPUT {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        var b = p.toBuilder();
        b.getGraphBuilder().getInputBuilder(0).setName(rnd.nextBoolean() ? "x2" : "../../x");
        return b.build();
      }
    },
    DUPLICATE_OUTPUT {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        var b = p.toBuilder();
        ValueInfoProto o = b.getGraph().getOutput(0);
        b.getGraphBuilder().addOutput(o);
        return b.build();
      }
    },
    UNPRODUCED_OUTPUT {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        var b = p.toBuilder();
        b.getGraphBuilder().addOutput(b.getGraph().getOutput(0).toBuilder().setName("nowhere"));
        return b.build();
      }
    },
    WRONG_DIMS {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        var b = p.toBuilder();
        int i = rnd.nextInt(b.getGraph().getInitializerCount());
        TensorProto.Builder t = b.getGraphBuilder().getInitializerBuilder(i);
        long[][] choices = {{3, 4}, {12}, {-1, 12}, {1L << 40, 1L << 40}, {0, 5}, {2, 2, 3}, {}};
        t.clearDims();
        for (long d : choices[rnd.nextInt(choices.length)]) {
          t.addDims(d);
        }
        return b.build();
      }
    },
    OPSET {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        long[] v = {-5, 0, 1, 6, 7, 9, 13, 21, 26, 99};
        var b = p.toBuilder();
        for (int i = 0; i < b.getOpsetImportCount(); i++) {
          if (b.getOpsetImport(i).getDomain().isEmpty()) {
            b.setOpsetImport(
                i, OperatorSetIdProto.newBuilder().setDomain("").setVersion(v[rnd.nextInt(v.length)]));
          }
        }
        return b.build();
      }
    },
    UNKNOWN_OP {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        var b = p.toBuilder();
        b.getGraphBuilder().getNodeBuilder(rnd.nextInt(b.getGraph().getNodeCount())).setOpType("Frobnicate");
        return b.build();
      }
    },
    NODE_INPUT {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        var b = p.toBuilder();
        var n = b.getGraphBuilder().getNodeBuilder(rnd.nextInt(b.getGraph().getNodeCount()));
        n.setInput(rnd.nextInt(n.getInputCount()), rnd.nextBoolean() ? "" : "dangling");
        return b.build();
      }
    },
    INPUT_TYPE {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        var b = p.toBuilder();
        b.getGraphBuilder().getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder()
            .setElemType(rnd.nextBoolean() ? TensorProto.DataType.INT64_VALUE : 999);
        return b.build();
      }
    },
    TENSOR_WRITTEN_TWICE {
      @Override
      ModelProto apply(ModelProto p, Random rnd) {
        var b = p.toBuilder();
        int n = b.getGraph().getNodeCount();
        b.getGraphBuilder().getNodeBuilder(n - 1).setOutput(0, b.getGraph().getNode(0).getOutput(0));
        return b.build();
      }
    };

    abstract ModelProto apply(ModelProto p, Random rnd);
  }
}
