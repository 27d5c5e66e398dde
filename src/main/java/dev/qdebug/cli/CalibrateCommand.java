package dev.qdebug.cli;

import dev.qdebug.UsageException;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.MemoryBudget;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.Calibrator;
import dev.qdebug.quant.QType;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code calibrate}: calibrates a float model and writes it as standard ONNX QDQ. */
@Command(
    name = "calibrate",
    description = "Calibrates a float model on sample data; writes QuantizeLinear/DequantizeLinear pairs.")
public final class CalibrateCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, description = "float ONNX model")
  Path model;

  @Option(
      names = "--calibration-data",
      required = true,
      description = "folder DIR/<input>/0.npy, 1.npy, ... (Horizon's layout)")
  Path data;

  @Option(names = "--output", required = true, description = "calibrated model to write")
  Path output;

  @Option(
      names = "--method",
      defaultValue = "default",
      description = "default, max, percentile, kl or mse (default: ${DEFAULT-VALUE})")
  String method;

  @Option(names = "--percentile", defaultValue = "99.99", description = "for --method percentile")
  double percentile;

  static final class Granularity {
    @Option(names = "--per-channel", description = "weights per output channel (default)")
    boolean perChannel;

    @Option(names = "--per-tensor", description = "weights per tensor")
    boolean perTensor;
  }

  @ArgGroup(exclusive = true)
  Granularity granularity;

  static final class Symmetry {
    @Option(names = "--symmetric", description = "activations symmetric around 0 (default)")
    boolean symmetric;

    @Option(names = "--asymmetric", description = "activations with a zero point")
    boolean asymmetric;
  }

  @ArgGroup(exclusive = true)
  Symmetry symmetry;

  @Option(names = "--weight-bits", defaultValue = "8", description = "4, 8 or 16")
  int weightBits;

  @Option(names = "--activation-bits", defaultValue = "8", description = "8 or 16")
  int activationBits;

  @Option(names = "--data-num", defaultValue = "0", description = "use the first N samples (0: all)")
  int dataNum;

  @Option(
      names = "--max-memory",
      paramLabel = "SIZE",
      description =
          "memory ceiling, e.g. 4g or 512m: batches shrink to fit it, and a run that holds more "
              + "stops with an error (exit 2)")
  String maxMemory;

  @Override
  public Integer call() {
    if (maxMemory == null) {
      MemoryBudget.setCeiling(-1, null);
    } else {
      MemoryBudget.setCeiling(MemoryBudget.parse(maxMemory, "--max-memory"), maxMemory.strip());
    }
    QType weightType = bits("--weight-bits", weightBits, 4, 8, 16);
    QType activationType = bits("--activation-bits", activationBits, 8, 16);
    Calibrator.Options o =
        Calibrator.Options.defaults()
            .method(CalibrationMethod.parse(method))
            .percentile(percentile)
            .perChannel(granularity == null || !granularity.perTensor)
            .symmetric(symmetry == null || !symmetry.asymmetric)
            .weightType(weightType)
            .activationType(activationType)
            .dataNum(dataNum);
    OnnxModel m = OnnxModel.load(model);
    SampleSet samples = SampleSet.open(data, m.inputs());
    OptionChecks.outputs(spec);
    var out = spec.commandLine().getOut();
    Calibrator.Result r =
        Calibrator.run(m, samples, o, new TerminalProgress(spec.commandLine().getErr()));
    try (var cal = r.model()) {
      for (Map.Entry<CalibrationMethod, Double> e : r.candidateCosines().entrySet()) {
        out.printf("candidate %-12s output cosine %.6f%n", e.getKey().label(), e.getValue());
      }
      long w = cal.nodes().stream().filter(n -> n.kind().label().equals("weight")).count();
      out.printf(
          "method %s: %d calibration nodes (%d weights, %d activations)%n",
          r.label(), cal.nodes().size(), w, cal.nodes().size() - w);
      cal.save(output);
      out.println("wrote " + output);
    }
    return 0;
  }

  /** The signed type of {@code bits}, one of {@code valid}; otherwise an error naming the option. */
  static QType bits(String option, int bits, int... valid) {
    for (int v : valid) {
      if (v == bits) {
        return QType.signedOfBits(bits);
      }
    }
    throw new UsageException(
        option + ": " + bits + " bits is not supported; valid: "
            + java.util.Arrays.toString(valid).replaceAll("[\\[\\]]", ""));
  }
}
