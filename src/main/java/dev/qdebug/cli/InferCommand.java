package dev.qdebug.cli;

import dev.qdebug.Inputs;
import dev.qdebug.SafeNames;
import dev.qdebug.UsageException;
import dev.qdebug.data.Npy;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.ValueInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code infer}: runs a model once on .npy inputs and writes every graph output as .npy. */
@Command(
    name = "infer",
    description = "Runs the model once on the given inputs; writes DIR/<output>.npy per output.")
public final class InferCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, description = "ONNX model file")
  Path model;

  @Option(
      names = "--input",
      required = true,
      description = "NAME=FILE.npy, one per model input (FILE.npy alone for a one-input model)")
  List<String> inputs = new ArrayList<>();

  @Option(names = "--output-dir", required = true, description = "folder for the outputs")
  Path outputDir;

  @Option(
      names = "--float",
      description = "on a calibrated model, run with every calibration node switched off")
  boolean floatOnly;

  @Option(
      names = "--allow-nonfinite",
      description = "accept NaN and infinite input values (refused by default)")
  boolean allowNonFinite;

  @Override
  public Integer call() {
    CalibratedModel cal = CalibratedModel.load(model);
    OnnxModel m = cal.floatModel();
    Map<String, INDArray> feeds = new LinkedHashMap<>();
    List<String> names = m.inputs().stream().map(ValueInfo::name).toList();
    for (String spec : inputs) {
      int eq = spec.indexOf('=');
      String name;
      String file;
      if (eq < 0) {
        if (names.size() != 1) {
          throw new UsageException(
              "--input " + spec + ": give NAME=FILE.npy; the model's inputs are " + names);
        }
        name = names.get(0);
        file = spec;
      } else {
        name = spec.substring(0, eq);
        file = spec.substring(eq + 1);
      }
      if (feeds.containsKey(name)) {
        throw new UsageException("--input: input '" + name + "' is given twice");
      }
      Path f = Path.of(file);
      INDArray x = Npy.read(f);
      Inputs.add(f, "the input file of '" + name + "'");
      if (!allowNonFinite) {
        refuseNonFinite(x, f, name);
      }
      feeds.put(name, x);
    }
    OptionChecks.outputs(spec);
    Map<String, INDArray> out;
    try (cal) {
      out = cal.run(feeds, floatOnly ? List.of() : cal.enabled(), RunOptions.defaults());
    }
    SafeNames.Unique files = new SafeNames.Unique();
    List<Path> targets = new ArrayList<>();
    for (String name : out.keySet()) {
      Path file = outputDir.resolve(files.of(name) + ".npy");
      try {
        Inputs.checkOutput(file, "--output-dir");
      } catch (UsageException e) {
        throw new UsageException(e.getMessage() + " (writing output '" + name + "' would overwrite it)");
      }
      targets.add(file);
    }
    int k = 0;
    for (Map.Entry<String, INDArray> e : out.entrySet()) {
      Path file = targets.get(k++);
      Npy.write(file, e.getValue());
      spec.commandLine().getOut().println(file);
    }
    return 0;
  }


  /** Refuses NaN and infinite values, naming the input, its file and the first flat index. */
  static void refuseNonFinite(INDArray x, Path file, String input) {
    if (!x.dataType().isFPType()) {
      return;
    }
    float[] v = x.dup('c').data().asFloat();
    for (int i = 0; i < v.length; i++) {
      if (!Float.isFinite(v[i])) {
        throw new dev.qdebug.DataException(
            file + ": input '" + input + "' holds " + v[i] + " at flat index " + i
                + " (NaN or infinite; --allow-nonfinite accepts it)");
      }
    }
  }
}
