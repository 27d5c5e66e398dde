package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.Cli;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code COMMAND --help} and {@code COMMAND --version} on every registered command, nested ones
 * included: exit 0 and the command's own usage, even where the command has required options.
 */
class HelpTest {
  /** Every command below the root, depth first, as the words that name it on the command line. */
  static List<List<String>> commands() {
    List<List<String>> all = new ArrayList<>();
    walk(new CommandLine(new Main()), new ArrayList<>(), all);
    return all;
  }

  private static void walk(CommandLine c, List<String> path, List<List<String>> all) {
    for (var e : c.getSubcommands().entrySet()) {
      if (!e.getKey().equals(e.getValue().getCommandName())) {
        continue; // an alias
      }
      List<String> p = new ArrayList<>(path);
      p.add(e.getKey());
      all.add(p);
      walk(e.getValue(), p, all);
    }
  }

  private static CommandLine find(List<String> path) {
    CommandLine c = new CommandLine(new Main());
    for (String w : path) {
      c = c.getSubcommands().get(w);
    }
    return c;
  }

  @Test
  void theWalkFindsTheCommands() {
    List<String> names = commands().stream().map(p -> String.join(" ", p)).toList();
    for (String n :
        List.of(
            "infer",
            "calibrate",
            "runall",
            "get-sensitivity-of-nodes",
            "partial-quantization",
            "kernel",
            "kernel install",
            "kernel run",
            "help")) {
      assertTrue(names.contains(n), n + " in " + names);
    }
  }

  @TestFactory
  Stream<DynamicTest> helpPrintsEachCommandsOwnUsage() {
    return commands().stream()
        .map(
            path ->
                DynamicTest.dynamicTest(
                    String.join(" ", path) + " --help",
                    () -> {
                      List<String> args = new ArrayList<>(path);
                      args.add("--help");
                      Cli.Result r = Cli.run(args.toArray(String[]::new));
                      assertEquals(0, r.status(), r.out() + r.err());
                      assertEquals("", r.err());
                      assertTrue(
                          r.out().contains("Usage: qdebug " + String.join(" ", path) + " "),
                          r.out());
                      CommandLine c = find(path);
                      for (OptionSpec o : c.getCommandSpec().options()) {
                        if (!o.hidden()) {
                          assertTrue(
                              r.out().contains(o.longestName()),
                              o.longestName() + " in the usage of " + path + ":\n" + r.out());
                        }
                      }
                      if (!(c.getCommand() instanceof CommandLine.HelpCommand)) {
                        assertTrue(r.out().contains("-V, --version"), r.out());
                      }
                    }));
  }

  /**
   * picocli reports a description it cannot format (an unescaped {@code %}) on the JVM's standard
   * error, not on the command's error writer: capture that stream around every {@code --help}.
   */
  @Test
  void noHelpPrintsAWarning() throws Exception {
    java.io.PrintStream saved = System.err;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    List<String> failures = new ArrayList<>();
    try {
      System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
      for (List<String> path : commands()) {
        captured.reset();
        List<String> args = new ArrayList<>(path);
        args.add("--help");
        Cli.Result r = Cli.run(args.toArray(String[]::new));
        String err = captured.toString(java.nio.charset.StandardCharsets.UTF_8) + r.err();
        if (r.status() != 0 || !err.isEmpty()) {
          failures.add(String.join(" ", path) + " --help: " + err);
        }
      }
    } finally {
      System.setErr(saved);
    }
    assertEquals(List.of(), failures);
  }

  @Test
  void helpAndVersionComeBeforeRequiredOptions() {
    Cli.Result r = Cli.run("runall", "--help");
    assertEquals(0, r.status(), r.err());
    assertTrue(
        r.out().contains("--calibration-data") && r.out().contains("--pick-threshold"), r.out());
    r = Cli.run("kernel", "install", "-h");
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("--prefix"), r.out());
    r = Cli.run("plot-distribution", "--version");
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().startsWith("qdebug "), r.out());
    r = Cli.run("runall");
    assertEquals(2, r.status(), "still required without --help");
    assertTrue(r.err().contains("--model"), r.err());
  }
}
