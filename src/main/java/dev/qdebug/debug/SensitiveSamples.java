package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.UsageException;
import dev.qdebug.data.Npy;
import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.metrics.Metric;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.viz.Figures;
import dev.qdebug.viz.Html;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;

/**
 * {@code select-sensitive-samples}: bad-case mining (HMCT's {@code select_sensitive_samples},
 * reference a.12). Every sample runs through the float model and the calibrated model (every
 * calibration node as switched on); each graph output is scored per sample with every metric,
 * averaged over outputs (NaN dropped); samples are ranked by the chosen metric, worst first, NaN
 * last, and the first {@code numSample} are selected. {@link Result#save} also writes the selected
 * samples as calibration data ({@code badcase_data/<input>/<k>.npy}, worst first), ready for {@code
 * get-sensitivity-of-nodes --calibration-data}, as HMCT returns them as a dataset.
 */
public final class SensitiveSamples {

  /**
   * Options.
   *
   * @param metric ranks the samples
   * @param numSample how many of the worst samples to select (HMCT's script default: 1)
   * @param dataNum the first N samples are searched; 0 for all
   */
  public record Options(Metric metric, int numSample, int dataNum) {
    public Options {
      if (numSample < 1) {
        throw new UsageException("--num-sample: " + numSample + "; give at least 1");
      }
    }

    /** Cosine similarity, one sample, searched among all. */
    public static Options defaults() {
      return new Options(Metric.COSINE_SIMILARITY, 1, 0);
    }

    public Options metric(Metric m) {
      return new Options(m, numSample, dataNum);
    }

    public Options numSample(int n) {
      return new Options(metric, n, dataNum);
    }

    public Options dataNum(int n) {
      return new Options(metric, numSample, n);
    }
  }

  /**
   * The ranking.
   *
   * @param table the selected samples, worst first: {@code rank, sample}, then every metric
   * @param all every sample searched, in the same form and order
   * @param figure the ranking metric per sample (in data order), the selected ones marked
   * @param selected the selected samples' inputs (batch dimension 1), worst first
   */
  public record Result(
      Table table, Table all, Figure figure, List<Map<String, INDArray>> selected, Options options)
      implements Report {
    /** The indices of the selected samples in the data, worst first. */
    public List<Integer> samples() {
      return table.intColumn("sample").asList();
    }

    @Override
    public void save(Path dir) {
      Html.writeCsv(dir.resolve("sensitive_samples.csv"), table);
      Html.writeCsv(dir.resolve("sample_metrics.csv"), all);
      Html.writeFigure(dir.resolve("sensitive_samples.html"), "sensitive samples", figure,
          "The samples whose quantized output differs most from float: the bad cases to look at first.");
      dev.qdebug.SafeNames.Unique folders = new dev.qdebug.SafeNames.Unique();
      for (int k = 0; k < selected.size(); k++) {
        for (Map.Entry<String, INDArray> e : selected.get(k).entrySet()) {
          Npy.write(
              dir.resolve("badcase_data").resolve(folders.of(e.getKey())).resolve(k + ".npy"),
              e.getValue());
        }
      }
    }
  }

  private SensitiveSamples() {}

  /** Ranks the samples of {@code data}. */
  public static Result run(CalibratedModel model, SampleSet data, Options o, Progress progress) {
    int n = Capture.samples(data, o.dataNum());
    List<String> outputs = model.floatModel().outputs().stream().map(v -> v.name()).toList();
    Metric[] metrics = Metric.values();
    double[][] score = new double[n][metrics.length];
    Set<String> enabled = model.enabled();
    List<BatchPlan.Batch> batches =
        BatchPlan.of(model.session(), data, n, BatchPlan.FORWARD, "select-sensitive-samples").batches();
    int done = 0;
    for (BatchPlan.Batch batch : batches) {
      int count = batch.size();
      Map<String, INDArray> in = data.batch(batch.samples());
      Map<String, INDArray> f = model.run(in, List.of(), RunOptions.outputs(outputs));
      Map<String, INDArray> q = model.run(in, enabled, RunOptions.outputs(outputs));
      List<float[][]> fs = new ArrayList<>();
      List<float[][]> qs = new ArrayList<>();
      for (String t : outputs) {
        fs.add(PartialModels.perSample(f.get(t), count));
        qs.add(PartialModels.perSample(q.get(t), count));
      }
      for (int s = 0; s < count; s++) {
        for (int k = 0; k < outputs.size(); k++) {
          Capture.requireFinite(fs.get(k)[s], data, batch.sample(s), outputs.get(k), "float");
          Capture.requireFinite(qs.get(k)[s], data, batch.sample(s), outputs.get(k), "quantized");
        }
        for (int m = 0; m < metrics.length; m++) {
          double sum = 0;
          int valid = 0;
          for (int k = 0; k < outputs.size(); k++) {
            double v = metrics[m].compute(fs.get(k)[s], qs.get(k)[s]);
            if (!Double.isNaN(v)) {
              sum += v;
              valid++;
            }
          }
          score[batch.sample(s)][m] = valid == 0 ? Double.NaN : sum / valid;
        }
      }
      done += count;
      progress.update("select-sensitive-samples", done, n);
    }
    int mi = o.metric().ordinal();
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Comparator<Integer> worstFirst =
        (a, b) -> {
          double x = score[a][mi];
          double y = score[b][mi];
          if (Double.isNaN(x) || Double.isNaN(y)) {
            return Boolean.compare(Double.isNaN(x), Double.isNaN(y));
          }
          return o.metric().worse(x, y) ? -1 : o.metric().worse(y, x) ? 1 : Integer.compare(a, b);
        };
    Arrays.sort(order, worstFirst);
    Table all = table("sample metrics", order, score, metrics, n);
    int top = Math.min(o.numSample(), n);
    Table table = table("sensitive samples", Arrays.copyOf(order, top), score, metrics, top);
    List<Map<String, INDArray>> selected = new ArrayList<>();
    for (int k = 0; k < top; k++) {
      selected.add(data.sample(order[k]));
    }
    String[] x = new String[n];
    double[] y = new double[n];
    double[] marked = new double[n];
    Arrays.fill(marked, Double.NaN);
    for (int i = 0; i < n; i++) {
      x[i] = Integer.toString(i);
      y[i] = score[i][mi];
    }
    for (int k = 0; k < top; k++) {
      marked[order[k]] = score[order[k]][mi];
    }
    Map<String, double[]> lines = new LinkedHashMap<>();
    lines.put(o.metric().label(), y);
    Map<String, double[]> markers = new LinkedHashMap<>();
    markers.put("selected (worst " + top + ")", marked);
    Figure fig =
        Figures.categoryLines(
            "Output " + o.metric().label() + " per sample, every calibration node on",
            "sample",
            o.metric().label(),
            x,
            lines,
            markers);
    return new Result(table, all, fig, selected, o);
  }

  private static Table table(
      String name, Integer[] order, double[][] score, Metric[] metrics, int rows) {
    IntColumn rank = IntColumn.create("rank");
    IntColumn sample = IntColumn.create("sample");
    List<DoubleColumn> cols = new ArrayList<>();
    for (Metric m : metrics) {
      cols.add(DoubleColumn.create(m.label()));
    }
    for (int r = 0; r < rows; r++) {
      rank.append(r + 1);
      sample.append(order[r]);
      for (int m = 0; m < metrics.length; m++) {
        cols.get(m).append(score[order[r]][m]);
      }
    }
    Table t = Table.create(name, rank, sample);
    cols.forEach(t::addColumns);
    return t;
  }
}
