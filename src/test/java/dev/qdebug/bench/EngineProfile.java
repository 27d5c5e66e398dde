package dev.qdebug.bench;

import dev.qdebug.Progress;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.Plan;
import dev.qdebug.engine.RunOptions;
import dev.qdebug.engine.Session;
import dev.qdebug.engine.TensorHook;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.ValueInfo;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.Calibrator;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Where a forward pass spends its time: the first run against steady runs (oneDNN primitive
 * creation and workspace learning happen in the first), runs with and without the session
 * workspace (allocation), the plain run's steps as it runs them (fused), and per op type of the
 * unfused steps the time between one step's output and the next (op dispatch plus its work),
 * summed over steady runs. Not a test.
 *
 * <pre>
 * java -Xss16m -Xmx4g -cp ... dev.qdebug.bench.EngineProfile [resnet50|repvgg-b2|mnasnet|mobilevit-s|model.onnx] [batch]
 * </pre>
 *
 * {@code -Dprofile.fakeQuant=true} also profiles the fake-quant forward of the model calibrated
 * on random samples.
 */
public final class EngineProfile {
  public static void main(String[] args) throws Exception {
    String which = args.length > 0 ? args[0] : "resnet50";
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 1;
    OnnxModel model =
        switch (which) {
          case "resnet50" -> OnnxModel.of(BenchModels.resnet50(224), "resnet50_224");
          case "repvgg-b2" -> OnnxModel.of(BenchModels.repvggB2(224), "repvgg_b2_224");
          case "mnasnet" -> OnnxModel.of(BenchModels.mnasnet(224), "mnasnet1.0_224");
          case "mobilevit-s" -> OnnxModel.of(BenchModels.mobilevitS(256), "mobilevit_s_256");
          default -> OnnxModel.load(Path.of(which));
        };
    ValueInfo in = model.inputs().get(0);
    long[] shape = in.shape().clone();
    shape[0] = batch;
    for (int d = 0; d < shape.length; d++) {
      if (shape[d] < 0) {
        shape[d] = 1;
      }
    }
    INDArray x = EngineBenchmark.input(in, shape);
    Map<String, INDArray> feed = Map.of(in.name(), x);
    System.out.printf("# %s, batch %d%n", model.source(), batch);
    for (boolean ws : new boolean[] {true, false}) {
      System.setProperty(Session.WORKSPACE_PROPERTY, String.valueOf(ws));
      try (Session s = Session.open(model)) {
        long t = System.nanoTime();
        s.run(feed);
        double first = (System.nanoTime() - t) / 1e6;
        double steady = EngineBenchmark.time(() -> s.run(feed));
        System.out.printf(
            Locale.ROOT,
            "workspace %s: first run %.1f ms, steady median %.1f ms (%.1f ms/img)%n",
            ws, first, steady, steady / batch);
        if (ws) {
          perStep(s, feed);
          perOp(s, feed, TensorHook.NONE);
        }
      }
    }
    System.clearProperty(Session.WORKSPACE_PROPERTY);
    if (Boolean.getBoolean("profile.fakeQuant")) {
      fakeQuant(model, feed, batch);
    }
  }

  /**
   * The fake-quant forward ({@code -Dprofile.fakeQuant=true}): the model calibrated (max, int8 per
   * channel) on 4 random samples, timed as {@code CalibratedModel.run}; then the same run hooked
   * step by step, the time inside the fake-quant hook shown as its own row.
   */
  static void fakeQuant(OnnxModel model, Map<String, INDArray> feed, int batch) throws Exception {
    ValueInfo in = model.inputs().get(0);
    Path dir = java.nio.file.Files.createTempDirectory("qdebug-profile");
    try {
      Nd4j.getRandom().setSeed(1);
      for (int i = 0; i < 4; i++) {
        long[] shape = in.shape().clone();
        shape[0] = 1;
        for (int d = 0; d < shape.length; d++) {
          shape[d] = shape[d] < 0 ? 1 : shape[d];
        }
        Npy.write(dir.resolve(in.name()).resolve(i + ".npy"), Nd4j.rand(DataType.FLOAT, shape));
      }
      SampleSet data = SampleSet.open(dir, model.inputs());
      try (CalibratedModel cm =
          Calibrator.calibrate(
              model, data,
              Calibrator.Options.defaults().method(CalibrationMethod.MAX).perChannel(true),
              Progress.NONE)) {
        TensorHook q = cm.hook(cm.enabled());
        double t = EngineBenchmark.time(() -> cm.run(feed));
        System.out.printf(
            Locale.ROOT,
            "fake-quant: %d calibration nodes, %d of %d fused steps used, steady median %.1f ms"
                + " (%.1f ms/img)%n",
            cm.nodes().size(), cm.session().plan().fusedStepsUsed(q, List.of()),
            cm.session().plan().fusedSteps(), t, t / batch);
        perOp(cm.session(), feed, q);
      }
    } finally {
      try (var files = java.nio.file.Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  /**
   * The plain run as it executes (fused steps as such), timed step by step ({@link
   * Plan#timeSteps}): per op type of the step run, then ({@code -Dprofile.steps=true}) the slowest
   * steps.
   */
  static void perStep(Session s, Map<String, INDArray> feed) {
    Plan plan = s.plan();
    int n = plan.steps().size();
    long[] nanos = new long[n];
    int runs = 10;
    plan.timeSteps(nanos);
    long wall = System.nanoTime();
    try {
      for (int r = 0; r < runs; r++) {
        s.run(feed);
      }
    } finally {
      plan.timeSteps(null);
    }
    wall = System.nanoTime() - wall;
    Map<String, double[]> byType = new TreeMap<>(); // ms, steps, summed over the runs
    for (int k = 0; k < n; k++) {
      Plan.Step st = plan.stepRunAs(k);
      if (st == null) {
        continue;
      }
      String type = st == plan.steps().get(k) ? st.node().opType() : st.node().opType() + " (fused)";
      double[] v = byType.computeIfAbsent(type, t -> new double[2]);
      v[0] += nanos[k] / 1e6;
      v[1] += runs;
    }
    System.out.printf(
        Locale.ROOT, "plain run, step by step: %.2f ms per run, %.2f ms of it in steps%n",
        wall / 1e6 / runs, byType.values().stream().mapToDouble(v -> v[0]).sum() / runs);
    printByType("step run as", byType, runs);
    if (Boolean.getBoolean("profile.steps")) {
      java.util.stream.IntStream.range(0, n)
          .filter(k -> plan.stepRunAs(k) != null)
          .boxed()
          .sorted((a, b) -> Long.compare(nanos[b], nanos[a]))
          .limit(40)
          .forEach(
              k ->
                  System.out.printf(
                      Locale.ROOT, "  %8.0f us  %s%s  %s%n",
                      nanos[k] / 1e3 / runs, plan.steps().get(k).node().opType(),
                      plan.stepRunAs(k) == plan.steps().get(k) ? "" : " (fused)",
                      plan.steps().get(k).node().name()));
    }
  }

  /**
   * Time between consecutive hook calls, by the op type of the step producing the tensor; the
   * time inside {@code inner} (a fake-quant hook, run on every tensor it touches) as "[hook]".
   * Every tensor is hooked, so the steps run unfused.
   */
  static void perOp(Session s, Map<String, INDArray> feed, TensorHook inner) {
    Plan plan = s.plan();
    Map<String, String> producer = new HashMap<>();
    for (Plan.Step step : plan.steps()) {
      for (String o : step.node().outputs()) {
        producer.put(o, step.node().opType());
      }
    }
    Map<String, double[]> byType = new TreeMap<>(); // ms, calls
    Map<String, double[]> byTensor = new HashMap<>(); // ms
    Map<String, String> shapes = new HashMap<>();
    long[] last = {0};
    int runs = 10;
    for (int r = 0; r < runs; r++) {
      last[0] = System.nanoTime();
      s.run(
          feed,
          RunOptions.hooked(
              (name, value) -> {
                long now = System.nanoTime();
                String type = producer.get(name);
                if (type != null) {
                  double[] v = byType.computeIfAbsent(type, k -> new double[2]);
                  v[0] += (now - last[0]) / 1e6;
                  v[1]++;
                  byTensor.computeIfAbsent(name, k -> new double[1])[0] += (now - last[0]) / 1e6;
                  shapes.put(name, type + " " + java.util.Arrays.toString(value.shape()));
                }
                INDArray out = value;
                if (inner.touches(name)) {
                  long h = System.nanoTime();
                  out = inner.onTensor(name, value);
                  double[] v = byType.computeIfAbsent("[hook]", k -> new double[2]);
                  v[0] += (System.nanoTime() - h) / 1e6;
                  v[1]++;
                }
                last[0] = System.nanoTime();
                return out;
              }));
    }
    printByType("op type", byType, runs);
    if (Boolean.getBoolean("profile.steps")) {
      byTensor.entrySet().stream()
          .sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0]))
          .limit(40)
          .forEach(
              e ->
                  System.out.printf(
                      Locale.ROOT, "  %8.0f us  %s  %s%n",
                      1000 * e.getValue()[0] / runs, shapes.get(e.getKey()), e.getKey()));
    }
  }

  /**
   * One row per type: {@code byType} holds, summed over {@code runs} runs, milliseconds and steps
   * (or calls).
   */
  static void printByType(String what, Map<String, double[]> byType, int runs) {
    double total = byType.values().stream().mapToDouble(v -> v[0]).sum();
    System.out.println("| " + what + " | ms per run | share | steps per run | us per step |");
    System.out.println("|---|---|---|---|---|");
    for (Map.Entry<String, double[]> e : byType.entrySet()) {
      double[] v = e.getValue();
      System.out.printf(
          Locale.ROOT,
          "| %s | %.2f | %.0f %% | %.0f | %.0f |%n",
          e.getKey(), v[0] / runs, 100 * v[0] / total, v[1] / runs, 1000 * v[0] / v[1]);
    }
  }
}
