package dev.qdebug.cli;

import dev.qdebug.debug.Debugger;
import dev.qdebug.debug.Report;
import dev.qdebug.engine.MemoryBudget;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The options every analysis command takes, as picocli mixins: {@code @Mixin AnalysisOptions in}
 * gives {@code --model} and {@code --calibration-data} and {@link #open()} the {@link Debugger}
 * over them; {@link DataNum}, {@link SaveDir} and {@link OptionalSaveDir} give {@code --data-num}
 * and {@code --save-dir}.
 *
 * <p>The analyses differ in what {@code --data-num} and {@code --save-dir} mean, so a command may
 * describe them in its own words: {@code AnalysisOptions.properties} (the commands' resource
 * bundle, set on {@link Main} and inherited) holds {@code qdebug.COMMAND.data-num} and {@code
 * qdebug.COMMAND.save-dir}; without one the option's description below is used. A command sets the
 * default of {@code --data-num} when it creates the mixin ({@link DataNum#DataNum(int)}).
 */
final class AnalysisOptions {
  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

  @Option(names = "--model", required = true, description = "calibrated model (QDQ or Horizon)")
  Path model;

  @Option(names = "--calibration-data", required = true, description = "DIR/<input>/<i>.npy")
  Path data;

  @Option(
      names = "--max-memory",
      paramLabel = "SIZE",
      description =
          "memory ceiling, e.g. 4g or 512m, a hard cap: batches shrink to fit it, and a run that "
              + "holds more stops with an error, exit 2 (default: no cap, tensors of a batch "
              + "within 1.5 GiB)")
  String maxMemory;

  /**
   * The debugger over {@code --model} and {@code --calibration-data}, with a progress bar on the
   * command's error stream; the caller closes it. Sets the process's memory ceiling from {@code
   * --max-memory} first.
   */
  Debugger open() {
    applyMaxMemory();
    Debugger d = Debugger.open(model, data);
    try {
      OptionChecks.outputs(command);
    } catch (RuntimeException e) {
      d.close();
      throw e;
    }
    return d.progress(new TerminalProgress(command.commandLine().getErr()));
  }

  /** Sets (or, without the option, clears) the ceiling the analyses size their batches by. */
  void applyMaxMemory() {
    if (maxMemory == null) {
      MemoryBudget.setCeiling(-1, null);
    } else {
      MemoryBudget.setCeiling(MemoryBudget.parse(maxMemory, "--max-memory"), maxMemory.strip());
    }
  }

  /** {@code --data-num N}: the first N samples, 0 for all; the default is the command's. */
  static final class DataNum {
    @Option(
        names = "--data-num",
        descriptionKey = "data-num",
        description = "first N samples (0: all)")
    int dataNum;

    /** Picocli's no-argument instance: default 0, all samples. */
    DataNum() {
      this(0);
    }

    DataNum(int defaultValue) {
      this.dataNum = defaultValue;
    }

    int get() {
      return dataNum;
    }
  }

  /** {@code --save-dir DIR}, required: where the command writes its figures and tables. */
  static final class SaveDir {
    @Option(
        names = "--save-dir",
        required = true,
        descriptionKey = "save-dir",
        description = "write the figures and CSV here")
    Path saveDir;

    Path get() {
      return saveDir;
    }

    /** {@code file} in the folder. */
    Path resolve(String file) {
      return saveDir.resolve(file);
    }

    /** Writes {@code r}'s tables and figures into the folder. */
    void save(Report r) {
      r.save(saveDir);
    }
  }

  /** {@code --save-dir DIR}, optional: without it the command only prints its table. */
  static final class OptionalSaveDir {
    @Option(names = "--save-dir", descriptionKey = "save-dir", description = "write the table here")
    Path saveDir;

    OptionalSaveDir() {}

    /** With a default folder instead of none. */
    OptionalSaveDir(Path defaultValue) {
      this.saveDir = defaultValue;
    }

    /** The folder, or null when not given and there is no default. */
    Path get() {
      return saveDir;
    }

    /** Writes {@code r}'s tables and figures into the folder, if there is one. */
    void save(Report r) {
      if (saveDir != null) {
        r.save(saveDir);
      }
    }
  }
}
