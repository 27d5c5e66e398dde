package dev.qdebug.cli;

import dev.qdebug.QdebugException;
import dev.qdebug.engine.MemoryBudget;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ScopeType;

/** Entry point of {@code qdebug.jar}. */
@Command(
    name = "qdebug",
    mixinStandardHelpOptions = true,
    // INHERIT: every subcommand, nested ones too, gets -h/--help and -V/--version, so that
    // `COMMAND --help` prints its usage before required options are checked.
    scope = ScopeType.INHERIT,
    version = "qdebug 0.1.0",
    // the analysis commands' own descriptions of the options in AnalysisOptions' mixins
    resourceBundle = "dev.qdebug.cli.AnalysisOptions",
    description = "Finds out why a quantized network lost accuracy, and fixes it.",
    subcommands = {
      InferCommand.class,
      CalibrateCommand.class,
      EvaluateCommand.class,
      GetSensitivityOfNodesCommand.class,
      PlotDistributionCommand.class,
      GetChannelwiseDataDistributionCommand.class,
      GetCalibrationNodesStatInfoCommand.class,
      LayerErrorCommand.class,
      SelectSensitiveSamplesCommand.class,
      PlotAccErrorCommand.class,
      SensitivityAnalysisCommand.class,
      PartialQuantizationCommand.class,
      DiagnoseCommand.class,
      RunallCommand.class,
      KernelCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  /** Exit status for bad usage or bad input. */
  public static final int BAD_INPUT = 2;

  /** Exit status for an internal error. */
  public static final int INTERNAL = 1;

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  public static void main(String[] args) {
    // before anything loads ND4J: JavaCPP reads its limit once, and then fails a native
    // allocation past --max-memory (inside a forward pass too) instead of the OS killing us
    MemoryBudget.presetPhysicalLimit(args);
    // OpenMP reads OMP_WAIT_POLICY when ND4J's native library loads (spinning threads slow
    // everything several times over on a busy 2-core machine), and the heap is fixed when the JVM
    // starts (JavaHeap: the default one grows far beyond what qdebug keeps in it). Start again
    // with both set, once.
    List<String> jvm = ManagementFactory.getRuntimeMXBean().getInputArguments();
    List<String> heap =
        JavaHeap.chosen(jvm) ? List.of() : JavaHeap.options(JavaHeap.choose(args, Runtime.getRuntime().maxMemory()));
    if (System.getenv(RELAUNCHED) == null
        && (System.getenv("OMP_WAIT_POLICY") == null || !heap.isEmpty())) {
      Integer status = relaunch(args, jvm, heap);
      if (status != null) {
        System.exit(status);
      }
    }
    // ND4J's native code needs more stack than a default thread's 1 MiB (a bare segmentation
    // fault otherwise, seen on full-size models): the command runs on a thread with 16 MiB.
    int[] status = {INTERNAL};
    Thread worker =
        new Thread(
            null,
            () -> status[0] = run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)),
            "qdebug",
            16L << 20);
    worker.start();
    try {
      worker.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    System.exit(status[0]);
  }

  /** Set in the environment of the JVM the command line started again (it never starts a third). */
  static final String RELAUNCHED = "QDEBUG_RELAUNCHED";

  private static Integer relaunch(String[] args, List<String> jvm, List<String> heap) {
    try {
      String java = ProcessHandle.current().info().command().orElse(null);
      String jar =
          Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
      if (java == null || !jar.endsWith(".jar")) {
        return null;
      }
      List<String> cmd = new ArrayList<>(List.of(java));
      cmd.addAll(jvm);
      cmd.addAll(heap);
      cmd.addAll(List.of("-cp", jar, Main.class.getName()));
      cmd.addAll(Arrays.asList(args));
      ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
      if (System.getenv("OMP_WAIT_POLICY") == null) {
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
      }
      if (System.getenv("MALLOC_ARENA_MAX") == null) {
        // as the notebook kernel: glibc's arenas (up to 8 per core, one per allocating thread)
        // each keep freed native memory
        pb.environment().put("MALLOC_ARENA_MAX", "2");
      }
      pb.environment().put(RELAUNCHED, "1");
      Process child = pb.start();
      // a terminated launcher takes the command with it
      Runtime.getRuntime().addShutdownHook(new Thread(child::destroy));
      return child.waitFor();
    } catch (Exception e) {
      return null; // run in this JVM instead
    }
  }

  /**
   * The message on one line: control characters (a newline in a hostile tensor name, say) written
   * as {@code \\n}, {@code \\uXXXX}.
   */
  static String oneLine(String message) {
    if (message == null) {
      return "";
    }
    StringBuilder b = new StringBuilder(message.length());
    for (int i = 0; i < message.length(); i++) {
      char c = message.charAt(i);
      if (c == '\n') {
        b.append("\\n");
      } else if (c == '\r') {
        b.append("\\r");
      } else if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  /** Runs one command line; returns its exit status. Used by tests with their own writers. */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setExecutionStrategy(
        parsed -> {
          OptionChecks.parsed(parsed);
          CommandLine.ParseResult leaf = parsed;
          while (leaf.subcommand() != null) {
            leaf = leaf.subcommand();
          }
          MemoryBudget.step(leaf.commandSpec().qualifiedName()); // analyses name theirs later
          return new CommandLine.RunLast().execute(parsed);
        });
    cli.setExitCodeExceptionMapper(e -> e instanceof QdebugException ? BAD_INPUT : INTERNAL);
    cli.setParameterExceptionHandler(
        (ex, a) -> {
          err.println("qdebug: " + oneLine(ex.getMessage()));
          return BAD_INPUT;
        });
    cli.setExecutionExceptionHandler(
        (ex, c, parsed) -> {
          if (TerminalProgress.midLine) {
            err.println(); // the error on a line of its own, after an unfinished progress bar
            TerminalProgress.midLine = false;
          }
          QdebugException q =
              ex instanceof QdebugException e ? e : MemoryBudget.outOfMemory(ex);
          if (q != null) {
            err.println("qdebug: " + oneLine(q.getMessage()));
            return BAD_INPUT;
          }
          err.println("qdebug: internal error: " + ex);
          ex.printStackTrace(err);
          return INTERNAL;
        });
    try (var guard = dev.qdebug.Inputs.open()) { // no output of the command over its inputs
      return cli.execute(args);
    } catch (OutOfMemoryError e) {
      // an Error passes picocli's handlers: JavaCPP's limit (--max-memory) or the Java heap
      if (TerminalProgress.midLine) {
        err.println();
        TerminalProgress.midLine = false;
      }
      err.println("qdebug: " + oneLine(MemoryBudget.outOfMemory(e).getMessage()));
      return BAD_INPUT;
    }
  }
}
