package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The options the analysis commands share through {@link AnalysisOptions}' mixins keep each
 * command's own default, requiredness and description.
 */
class AnalysisOptionsTest {
  /** A command's expected --data-num default and --save-dir (null: optional without default). */
  record Expected(String command, int dataNum, boolean saveDirRequired, Path saveDirDefault) {}

  static final List<Expected> EXPECTED =
      List.of(
          new Expected("get-sensitivity-of-nodes", 1, false, null),
          new Expected("plot-distribution", 1, true, null),
          new Expected("get-channelwise-data-distribution", 1, true, null),
          new Expected("get-calibration-nodes-stat-info", 0, false, null),
          new Expected("layer-error", 1, false, null),
          new Expected("select-sensitive-samples", 0, false, null),
          new Expected("plot-acc-error", 1, true, null),
          new Expected("sensitivity-analysis", 1, true, null),
          new Expected("partial-quantization", 0, true, null),
          new Expected("runall", 1, false, Path.of("debug_result")));

  /** Parses {@code command} with its required options only; returns its parsed spec. */
  static CommandSpec parse(String command, String... more) {
    List<String> args =
        new ArrayList<>(List.of(command, "--model", "m.onnx", "--calibration-data", "d"));
    if (command.equals("plot-distribution")
        || command.equals("get-channelwise-data-distribution")) {
      args.addAll(List.of("--nodes", "n"));
    }
    args.addAll(List.of(more));
    CommandLine cli = new CommandLine(new Main());
    return cli.parseArgs(args.toArray(String[]::new)).subcommand().commandSpec();
  }

  @Test
  void everyCommandKeepsItsDefaults() {
    for (Expected e : EXPECTED) {
      CommandSpec s =
          e.saveDirRequired() ? parse(e.command(), "--save-dir", "out") : parse(e.command());
      assertEquals(e.dataNum(), (int) s.findOption("--data-num").getValue(), e.command());
      OptionSpec save = s.findOption("--save-dir");
      assertEquals(e.saveDirRequired(), save.required(), e.command());
      if (!e.saveDirRequired()) {
        assertEquals(e.saveDirDefault(), save.getValue(), e.command());
      }
      assertEquals(Path.of("m.onnx"), s.findOption("--model").getValue(), e.command());
      assertEquals(Path.of("d"), s.findOption("--calibration-data").getValue(), e.command());
      assertTrue(
          s.findOption("--model").required() && s.findOption("--calibration-data").required());

      s = parse(e.command(), "--data-num", "5", "--save-dir", "x");
      assertEquals(5, (int) s.findOption("--data-num").getValue(), e.command());
      assertEquals(Path.of("x"), s.findOption("--save-dir").getValue(), e.command());
    }
  }

  @Test
  void aRequiredSaveDirIsStillRequired() {
    for (Expected e : EXPECTED) {
      if (e.saveDirRequired()) {
        var r = dev.qdebug.Cli.run(e.command(), "--model", "m.onnx", "--calibration-data", "d");
        assertEquals(2, r.status(), e.command());
        assertTrue(r.err().contains("--save-dir"), r.err());
      }
    }
  }

  @Test
  void commandsDescribeTheSharedOptionsInTheirOwnWords() {
    assertHelpSays(
        "plot-distribution",
        "--data-num=<dataNum> pool the first N samples (0: all; default 1, as Horizon)");
    assertHelpSays(
        "get-channelwise-data-distribution",
        "--data-num=<dataNum> pool the first N samples for activations (0: all; default 1)");
    assertHelpSays("layer-error", "--data-num=<dataNum> first N samples (0: all)");
    assertHelpSays("runall", "--data-num=<dataNum> samples per analysis (0: all)");
    assertHelpSays("runall", "--save-dir=<saveDir> report folder");
    assertHelpSays("plot-acc-error", "--save-dir=<saveDir> write the figures and CSV here");
    assertHelpSays(
        "select-sensitive-samples",
        "--save-dir=<saveDir> write the tables, figure and badcase_data/ here");
    assertHelpSays("runall", "--model=<model> calibrated model (QDQ or Horizon)");
    assertHelpSays("runall", "--calibration-data=<data> DIR/<input>/<i>.npy");
  }

  /** {@code command --help} says {@code text}, white space aside. */
  static void assertHelpSays(String command, String text) {
    String help = dev.qdebug.Cli.run(command, "--help").out().replaceAll("\\s+", " ");
    assertTrue(help.contains(text), "'" + text + "' in: " + help);
  }
}
