package dev.qdebug.cli;

import dev.qdebug.Inputs;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The checks every command's options get, in one place: {@link #parsed} runs before any command
 * (from {@link Main}'s execution strategy) and refuses negative counts, empty paths, empty names in
 * lists and empty members of {@code a+b} groups; {@link #outputs} runs once a command has read its
 * model and data, and refuses an output option that resolves to one of those inputs ({@link
 * Inputs}).
 */
final class OptionChecks {
  /** Options that count samples: 0 means all (or the default), a negative count is an error. */
  static final Set<String> COUNTS = Set.of("--data-num", "--eval-num", "--num-sample");

  /** Options that name something the command writes. */
  static final Set<String> OUTPUTS = Set.of("--output", "--csv", "--save-dir", "--output-dir");

  /** Options whose list items may be {@code a+b} groups. */
  static final Set<String> GROUPS =
      Set.of("--interested-nodes", "--quantize-node", "--non-quantize-node");

  private OptionChecks() {}

  /** Checks the options of the command about to run (the last one on the command line). */
  static void parsed(ParseResult pr) {
    ParseResult last = pr;
    while (last.hasSubcommand()) {
      last = last.subcommand();
    }
    CommandLine cl = last.commandSpec().commandLine();
    for (OptionSpec o : last.matchedOptions()) {
      String name = o.longestName();
      Object v = o.getValue();
      if (v instanceof Integer n && COUNTS.contains(name) && n < 0) {
        throw new ParameterException(
            cl, name + ": " + n + " is negative; give a count of samples (0: all)");
      }
      if (v instanceof Path p && p.toString().isEmpty()) {
        throw new ParameterException(cl, name + ": the path is empty; give a file or folder name");
      }
      if (v instanceof List<?> list) {
        for (Object item : list) {
          if (!(item instanceof String s)) {
            continue;
          }
          if (s.isBlank()) {
            throw new ParameterException(
                cl, name + ": an empty name in the list " + String.join(",", strings(list)));
          }
          if (GROUPS.contains(name) && s.contains("+")) {
            for (String member : s.split("\\+", -1)) {
              if (member.isBlank()) {
                throw new ParameterException(
                    cl, name + ": group '" + s + "' has an empty member (write a+b)");
              }
            }
          }
        }
      }
    }
  }

  private static List<String> strings(List<?> list) {
    return list.stream().map(String::valueOf).toList();
  }

  /**
   * Checks the output options of {@code command} against the inputs read so far.
   *
   * @throws dev.qdebug.UsageException naming the option, the output and the input
   */
  static void outputs(CommandSpec command) {
    for (OptionSpec o : command.options()) {
      if (OUTPUTS.contains(o.longestName()) && o.getValue() instanceof Path p) {
        Inputs.checkOutput(p, o.longestName());
      }
    }
  }
}
