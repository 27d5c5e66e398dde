package dev.qdebug.cli;

import dev.qdebug.QdebugException;
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
    if (System.getenv("OMP_WAIT_POLICY") == null) {
      // OpenMP reads this when ND4J's native library loads; spinning threads slow everything
      // several times over on a busy 2-core machine. Start again with it set.
      Integer status = relaunchWithPassiveOpenMp(args);
      if (status != null) {
        System.exit(status);
      }
    }
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  private static Integer relaunchWithPassiveOpenMp(String[] args) {
    try {
      String java = ProcessHandle.current().info().command().orElse(null);
      String jar =
          Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
      if (java == null || !jar.endsWith(".jar")) {
        return null;
      }
      List<String> cmd = new ArrayList<>(List.of(java));
      cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
      cmd.addAll(List.of("-cp", jar, Main.class.getName()));
      cmd.addAll(Arrays.asList(args));
      ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
      pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
      return pb.start().waitFor();
    } catch (Exception e) {
      return null; // run in this JVM instead
    }
  }

  /** Runs one command line; returns its exit status. Used by tests with their own writers. */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setExitCodeExceptionMapper(e -> e instanceof QdebugException ? BAD_INPUT : INTERNAL);
    cli.setParameterExceptionHandler(
        (ex, a) -> {
          err.println("qdebug: " + ex.getMessage());
          return BAD_INPUT;
        });
    cli.setExecutionExceptionHandler(
        (ex, c, parsed) -> {
          if (ex instanceof QdebugException) {
            err.println("qdebug: " + ex.getMessage());
            return BAD_INPUT;
          }
          err.println("qdebug: internal error: " + ex);
          ex.printStackTrace(err);
          return INTERNAL;
        });
    return cli.execute(args);
  }
}
