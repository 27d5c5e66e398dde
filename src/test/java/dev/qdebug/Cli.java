package dev.qdebug;

import dev.qdebug.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

/** Runs the command line in-process, capturing its exit status and both streams. */
public final class Cli {
  private Cli() {}

  /** What a command line run gave. */
  public record Result(int status, String out, String err) {}

  public static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Result(status, out.toString(), err.toString());
  }

  /** Runs {@code first} then {@code more}: a command with the options a test repeats, then its own. */
  public static Result run(List<String> first, String... more) {
    List<String> args = new ArrayList<>(first);
    args.addAll(List.of(more));
    return run(args.toArray(String[]::new));
  }
}
