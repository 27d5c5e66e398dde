package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.Plan;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Snapshot;
import dev.qdebug.engine.Tensors;
import dev.qdebug.metrics.Metric;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.TensorKind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.columns.numbers.NumberColumnFormatter;

/**
 * What the partial-quantization analyses share: Horizon's whitelist and blacklist models as sets of
 * switched-on calibration nodes, normal nodes, and the output cosine similarity of a set of
 * variants.
 */
final class PartialModels {
  private PartialModels() {}

  /**
   * Horizon's normal nodes, in graph order: every node with at least one calibration node on its
   * inputs.
   */
  static List<String> normalNodes(CalibratedModel model) {
    List<String> out = new ArrayList<>();
    for (Plan.Step s : model.session().plan().steps()) {
      if (!model.calibrationsOf(s.node().name()).isEmpty()) {
        out.add(s.node().name());
      }
    }
    return out;
  }

  /**
   * The calibration nodes that quantize {@code nodes} (a node's input calibration nodes, a
   * calibration node itself), in first-seen order.
   *
   * @throws dev.qdebug.ModelException listing the closest names for an unknown name
   * @throws UsageException naming {@code option} for a node without calibration nodes
   */
  static Set<String> calibrationsOf(
      CalibratedModel model, Collection<String> nodes, String option) {
    Set<String> out = new LinkedHashSet<>();
    for (String n : nodes) {
      List<CalibrationNode> c = model.calibrationsOf(n);
      if (c.isEmpty()) {
        throw new UsageException(
            option
                + ": node '"
                + n
                + "' has no calibration node on its inputs (nothing to quantize)");
      }
      c.forEach(x -> out.add(x.name()));
    }
    return out;
  }

  /** Horizon's whitelist model: the float model with only {@code calibrations} switched on. */
  static Set<String> whitelist(Collection<String> calibrations) {
    return new LinkedHashSet<>(calibrations);
  }

  /** Horizon's blacklist model: the calibrated model with {@code calibrations} switched off. */
  static Set<String> blacklist(CalibratedModel model, Collection<String> calibrations) {
    Set<String> on = new LinkedHashSet<>(model.enabled());
    on.removeAll(calibrations);
    return on;
  }

  /** The model's file name (or its source description), as the accuracy tables show it. */
  static String modelName(CalibratedModel model) {
    return model
        .floatModel()
        .path()
        .map(p -> p.getFileName().toString())
        .orElse(model.floatModel().source());
  }

  /**
   * The calibration methods of the model's activation nodes (of all nodes when it has none),
   * joined by {@code /}, as the tutorial's table names them.
   */
  static String methodLabel(CalibratedModel model) {
    Set<String> methods = new LinkedHashSet<>();
    for (CalibrationNode c : model.nodes()) {
      if (c.kind() == TensorKind.ACTIVATION) {
        methods.add(c.method());
      }
    }
    if (methods.isEmpty()) {
      model.nodes().forEach(c -> methods.add(c.method()));
    }
    return String.join("/", methods);
  }

  /** A number column shown with {@code digits} decimals (its CSV keeps every digit). */
  static DoubleColumn fixed(String name, int digits) {
    DoubleColumn c = DoubleColumn.create(name);
    c.setPrintFormatter(NumberColumnFormatter.fixedWithGrouping(digits));
    return c;
  }

  /** How many samples {@code dataNum} selects (0: all), checked against the data. */
  static int sampleCount(SampleSet data, int dataNum) {
    if (dataNum < 0) {
      throw new UsageException("--data-num: " + dataNum + " is negative");
    }
    int n = dataNum > 0 ? dataNum : data.size();
    if (n > data.size()) {
      throw new UsageException("--data-num: " + n + " samples asked, the data has " + data.size());
    }
    return n;
  }

  /**
   * Splits a batch tensor into one flat array per sample. A tensor whose first dimension is not the
   * batch (a {@code Shape} output, a scalar) is compared whole: every sample gets all of it.
   */
  static float[][] perSample(INDArray a, int count) {
    float[] all = Tensors.floats(a);
    float[][] out = new float[count][];
    if (a.rank() == 0 || a.size(0) != count) {
      Arrays.fill(out, all);
      return out;
    }
    int per = all.length / count;
    for (int s = 0; s < count; s++) {
      out[s] = Arrays.copyOfRange(all, s * per, (s + 1) * per);
    }
    return out;
  }

  /**
   * The graph outputs' cosine similarity with the float model for each variant (a set of
   * switched-on calibration nodes), as Horizon scores a model: per output tensor the mean over
   * samples (NaN samples dropped), then the mean over output tensors. Each batch runs the float
   * model once and each variant re-runs only the graph downstream of its nodes.
   */
  static double[] outputCosines(
      CalibratedModel model,
      SampleSet data,
      int n,
      List<? extends Collection<String>> variants,
      Progress progress,
      String task) {
    List<String> outputs = model.floatModel().outputs().stream().map(v -> v.name()).toList();
    double[][] sum = new double[variants.size()][outputs.size()];
    int[][] count = new int[variants.size()][outputs.size()];
    Workers.Sweep sweep = Workers.Sweep.of(model.session(), data, n, task);
    List<BatchPlan.Batch> batches = sweep.batches();
    long total = (long) variants.size() * batches.size();
    for (int b = 0; b < batches.size(); b++) {
      BatchPlan.Batch batch = batches.get(b);
      int c = batch.size();
      Snapshot base = model.floatSnapshot(data.batch(batch.samples()), variants, outputs);
      List<float[][]> ref = new ArrayList<>();
      for (String t : outputs) {
        ref.add(perSample(base.get(t), c));
      }
      long start = (long) b * variants.size();
      // variants on both cores for a small model: each writes its own sums
      sweep.run(
          variants.size(),
          v -> {
            Map<String, INDArray> got =
                model.rerun(base, variants.get(v), RunOptions.outputs(outputs));
            for (int k = 0; k < outputs.size(); k++) {
              float[][] q = perSample(got.get(outputs.get(k)), c);
              for (int s = 0; s < c; s++) {
                double x = Metric.COSINE_SIMILARITY.compute(ref.get(k)[s], q[s]);
                if (!Double.isNaN(x)) {
                  sum[v][k] += x;
                  count[v][k]++;
                }
              }
            }
          },
          finished -> progress.update(task, start + finished, total));
      base.close(); // its tensors' memory now, not when the garbage collector runs
    }
    double[] out = new double[variants.size()];
    for (int v = 0; v < variants.size(); v++) {
      double s = 0;
      int valid = 0;
      for (int k = 0; k < outputs.size(); k++) {
        if (count[v][k] > 0) {
          s += sum[v][k] / count[v][k];
          valid++;
        }
      }
      out[v] = valid == 0 ? Double.NaN : s / valid;
    }
    return out;
  }
}
