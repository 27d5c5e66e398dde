package dev.qdebug.cli;

import dev.qdebug.QdebugException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code qdebug.jar}. */
@Command(
    name = "qdebug",
    mixinStandardHelpOptions = true,
    version = "qdebug 0.1.0",
    description = "Finds out why a quantized network lost accuracy, and fixes it.",
    subcommands = {InferCommand.class, CommandLine.HelpCommand.class})
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
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
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
