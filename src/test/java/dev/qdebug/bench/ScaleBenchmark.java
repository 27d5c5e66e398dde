package dev.qdebug.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.qdebug.Progress;
import dev.qdebug.data.Npy;
import dev.qdebug.data.SampleSet;
import dev.qdebug.debug.Diagnose;
import dev.qdebug.debug.NodeSensitivity;
import dev.qdebug.engine.Session;
import dev.qdebug.metrics.Metric;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.ValueInfo;
import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationMethod;
import dev.qdebug.quant.Calibrator;
import dev.qdebug.quant.QType;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The scale benchmark of issue 10, both sides in one process with the same thread count (2): per
 * model, float forward at batch 1 and 8 against ONNX Runtime with all optimizations; the
 * fake-quantized forward of the calibrated model (max, int8 per channel) against ORT running the
 * same QDQ file without optimizations; the sensitivity sweeps ({@code node} and {@code weight})
 * against the plain ORT loop (one QDQ variant per candidate, whole model, no optimizations, one
 * sample per run), with the rankings compared; {@code diagnose} on each case study's harder
 * setting (the notebooks' calibration and options: real calibration images, top-1 on the first
 * 2,000 test images); and peak memory of each qdebug step: resident
 * size ({@code VmHWM}, reset before each step), JavaCPP's {@code Pointer.physicalBytes} sampled
 * every 20 ms (ND4J allocates its arrays outside JavaCPP's byte count, so {@code
 * Pointer.totalBytes} stays 0 and the resident size is the measure of its native memory), and
 * peak heap.
 *
 * <pre>
 * OMP_WAIT_POLICY=PASSIVE MAVEN_OPTS="-Xmx4g -Dorg.bytedeco.javacpp.maxphysicalbytes=0" \
 *   mvn -q -o test-compile exec:java -Dexec.classpathScope=test \
 *   -Dexec.mainClass=dev.qdebug.bench.ScaleBenchmark -Dexec.args="--quick"
 * </pre>
 *
 * ({@code scripts/bench.sh --quick} does the same.)
 *
 * Arguments: {@code --quick} (the case-study models only, 8 samples), {@code --samples N}
 * (default 32), {@code --models a,b} (resnet50, repvgg-b2, mnasnet, mobilevit-s, or .onnx paths;
 * default: the four full-size models and the case-study models), {@code --no-ort-loop} (skip the
 * slow ORT loop), {@code --steps a,b} (of float, fake-quant, sweeps, diagnose; default all; the
 * diagnose row is for the case-study models only), {@code --diagnose-eval N} (test images for
 * diagnose's top-1, default 2000 as in the notebooks), {@code --scores DIR} (each sweep's
 * per-candidate scores, both sides, as {@code MODEL_TYPE_scores.csv}).
 *
 * <p>The full-size models are built at run time with random weights ({@link BenchModels}):
 * ResNet-50, RepVGG-B2 (deploy form) and MnasNet 1.0 at 224x224, MobileViT-S at 256x256.
 */
public final class ScaleBenchmark {
  static final int THREADS = 2;

  /** The steps a run can measure. */
  enum Step {
    FLOAT,
    FAKE_QUANT,
    SWEEPS,
    DIAGNOSE;

    static Step parse(String s) {
      return switch (s) {
        case "float" -> FLOAT;
        case "fake-quant" -> FAKE_QUANT;
        case "sweeps" -> SWEEPS;
        case "diagnose" -> DIAGNOSE;
        default -> throw new IllegalArgumentException("unknown step " + s + " (float, fake-quant, sweeps, diagnose)");
      };
    }
  }

  /**
   * A case study's harder setting, as its notebook has it: int4 weights, per channel or per
   * tensor, activations by the default method; {@code diagnose} of the {@code top} most sensitive
   * nodes.
   */
  record Harder(String label, boolean perChannel, int top) {
    static Harder of(Path model) {
      String n = model.getFileName().toString();
      if (n.startsWith("repvgg")) {
        return new Harder("int4 weights per channel", true, 33);
      } else if (n.startsWith("mobilevit")) {
        return new Harder("int4 weights per tensor", false, 10);
      } else if (n.startsWith("mnasnet")) {
        return new Harder("int4 weights per channel", true, 10);
      }
      return null;
    }
  }

  /**
   * Runs the benchmark on a thread with a 16 MiB stack: ND4J's native code needs more than a
   * default thread stack ({@code -Xss16m} is then not needed, and {@code mvn exec:java} works).
   */
  public static void main(String[] args) throws Exception {
    Throwable[] failure = {null};
    Thread t =
        new Thread(
            null,
            () -> {
              try {
                run(args);
              } catch (Throwable e) {
                failure[0] = e;
              }
            },
            "bench",
            16L << 20);
    t.start();
    t.join();
    if (failure[0] instanceof Exception e) {
      throw e;
    } else if (failure[0] != null) {
      throw new RuntimeException(failure[0]);
    }
  }

  static void run(String[] args) throws Exception {
    int samples = 32;
    boolean samplesGiven = false;
    boolean quick = false;
    boolean ortLoop = true;
    EnumSet<Step> steps = EnumSet.allOf(Step.class);
    int diagnoseEval = 2000;
    Path scoresDir = null;
    List<String> models = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick" -> quick = true;
        case "--samples" -> {
          samples = Integer.parseInt(args[++i]);
          samplesGiven = true;
        }
        case "--models" -> models.addAll(List.of(args[++i].split(",")));
        case "--no-ort-loop" -> ortLoop = false;
        case "--steps" -> {
          steps = EnumSet.noneOf(Step.class);
          for (String st : args[++i].split(",")) {
            steps.add(Step.parse(st));
          }
        }
        case "--diagnose-eval" -> diagnoseEval = Integer.parseInt(args[++i]);
        case "--scores" -> scoresDir = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (quick && !samplesGiven) {
      samples = 8;
    }
    if (models.isEmpty()) {
      if (!quick) {
        models.add("resnet50");
        models.add("repvgg-b2");
        models.add("mnasnet");
        models.add("mobilevit-s");
      }
      try (Stream<Path> s = Files.list(Path.of("data/models"))) {
        s.filter(p -> p.toString().endsWith(".onnx")).sorted().forEach(p -> models.add(p.toString()));
      }
    }
    Path tmp = Files.createTempDirectory("qdebug-bench");
    System.out.printf(
        "# %s, %d cores, max heap %d MiB, javacpp maxPhysicalBytes %d MiB, %d samples, load average %s%n",
        java.time.LocalDate.now(), Runtime.getRuntime().availableProcessors(),
        Runtime.getRuntime().maxMemory() >> 20, Pointer.maxPhysicalBytes() >> 20, samples, loadAverage());
    System.out.println("| model | step | qdebug | ORT | ORT / qdebug time | ranking / result | qdebug peak RSS MiB (VmHWM) | peak physical MiB (sampled) | peak heap MiB | load avg (1 min) |");
    System.out.println("|---|---|---|---|---|---|---|---|---|---|");
    List<String> rows = new ArrayList<>();
    try {
      for (String name : models) {
        Path file;
        if (name.equals("resnet50")) {
          file = tmp.resolve("resnet50_224.onnx");
          Files.write(file, BenchModels.resnet50(224).toByteArray());
        } else if (name.equals("repvgg-b2")) {
          file = tmp.resolve("repvgg_b2_deploy_224.onnx");
          Files.write(file, BenchModels.repvggB2(224).toByteArray());
        } else if (name.equals("mnasnet")) {
          file = tmp.resolve("mnasnet1.0_224.onnx");
          Files.write(file, BenchModels.mnasnet(224).toByteArray());
        } else if (name.equals("mobilevit-s")) {
          file = tmp.resolve("mobilevit_s_256.onnx");
          Files.write(file, BenchModels.mobilevitS(256).toByteArray());
        } else {
          file = Path.of(name);
        }
        if (steps.contains(Step.FLOAT) || steps.contains(Step.FAKE_QUANT) || steps.contains(Step.SWEEPS)) {
          bench(file, samples, ortLoop, steps, tmp, scoresDir, rows);
        }
        if (steps.contains(Step.DIAGNOSE) && Harder.of(file) != null && !file.startsWith(tmp)) {
          diagnose(file, Harder.of(file), diagnoseEval, rows);
        }
        rows.forEach(System.out::println);
        rows.clear();
        System.out.flush();
      }
    } finally {
      try (Stream<Path> w = Files.walk(tmp)) {
        w.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /**
   * {@code diagnose} on the case study's harder setting, as the notebook runs it: calibrated on
   * the real calibration images ({@code data/calibration}), 16 samples, top-1 on the first {@code
   * evalNum} test images ({@code data/fmnist_test}), float top-1 measured by diagnose itself, no
   * per-sample explanations. The time covers {@code diagnose} only, not the calibration.
   */
  static void diagnose(Path file, Harder h, int evalNum, List<String> rows) throws Exception {
    String label = file.getFileName().toString();
    OnnxModel model = OnnxModel.load(file);
    SampleSet calibration = SampleSet.open(Path.of("data/calibration"), model.inputs());
    Calibrator.Options co = Calibrator.Options.defaults().weightType(QType.INT4).perChannel(h.perChannel());
    CalibratedModel[] cal = new CalibratedModel[1];
    long c0 = System.nanoTime();
    Mem calMem = Mem.measure(() -> cal[0] = Calibrator.calibrate(model, calibration, co, Progress.NONE));
    rows.add(row(label, "calibrate " + h.label() + " (s)", (System.nanoTime() - c0) / 1e9, Double.NaN, "", calMem));
    try (CalibratedModel hard = cal[0]) {
      Diagnose.Options o =
          Diagnose.Options.defaults()
              .top(h.top())
              .dataNum(16)
              .dataset(Path.of("data/fmnist_test"))
              .evalNum(evalNum)
              .samples(0);
      Diagnose.Result[] res = new Diagnose.Result[1];
      long d0 = System.nanoTime();
      Mem mem = Mem.measure(() -> res[0] = Diagnose.run(hard, calibration, o, Progress.NONE));
      double s = (System.nanoTime() - d0) / 1e9;
      Diagnose.Result r = res[0];
      double[] cal1 = r.metrics().get("calibrated");
      double[] fixed = r.metrics().get("fixed");
      double[] fl = r.metrics().get("float");
      String result =
          String.format(
              Locale.ROOT,
              "%s: top-1 %.2f %% -> %.2f %% (float %.2f %%), %d in float, %d in int16",
              r.reached() ? "target reached" : "target not reached",
              100 * cal1[1],
              100 * fixed[1],
              100 * fl[1],
              r.nodesInFloat(),
              r.nodesInInt16());
      rows.add(
          row(label, "diagnose " + h.label() + ", top " + h.top() + ", 16 samples, top-1 on " + evalNum + " (s)", s, Double.NaN, result, mem));
    }
  }

  static void bench(
      Path file, int samples, boolean ortLoop, EnumSet<Step> steps, Path tmp, Path scoresDir, List<String> rows)
      throws Exception {
    String label = file.getFileName().toString();
    OnnxModel model = OnnxModel.load(file);
    ValueInfo in = model.inputs().get(0);
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    // samples on disk, as a user has them
    Path dataDir = tmp.resolve(label + "_data");
    Nd4j.getRandom().setSeed(1);
    for (int i = 0; i < samples; i++) {
      long[] shape = in.shape().clone();
      shape[0] = 1;
      INDArray x = Nd4j.rand(DataType.FLOAT, shape);
      if (in.type() == dev.qdebug.onnx.ElemType.UINT8) {
        x = x.muli(255).castTo(DataType.UBYTE);
      }
      Npy.write(dataDir.resolve(in.name()).resolve(i + ".npy"), x);
    }
    SampleSet data = SampleSet.open(dataDir, model.inputs());

    // float forward
    for (int batch : steps.contains(Step.FLOAT) ? new int[] {1, 8} : new int[0]) {
      int b = Math.min(batch, samples);
      Map<String, INDArray> feed = data.batch(0, b);
      double[] ours = new double[1];
      Mem mem =
          Mem.measure(
              () -> {
                try (Session s = Session.open(model)) {
                  ours[0] = EngineBenchmark.time(() -> s.run(feed)) / b;
                }
              });
      double ort = timeOrt(env, file, feed.get(in.name()), OrtSession.SessionOptions.OptLevel.ALL_OPT) / b;
      rows.add(row(label, "float forward, batch " + b + " (ms/img; ORT all-opt)", ours[0], ort, "", mem));
    }

    if (!steps.contains(Step.FAKE_QUANT) && !steps.contains(Step.SWEEPS)) {
      return;
    }
    // calibrate, then fake-quant forward vs ORT no-opt on the same QDQ file
    CalibratedModel[] cal = new CalibratedModel[1];
    long t0 = System.nanoTime();
    Mem calMem =
        Mem.measure(
            () ->
                cal[0] =
                    Calibrator.calibrate(
                        model,
                        data,
                        Calibrator.Options.defaults().method(CalibrationMethod.MAX).perChannel(true),
                        Progress.NONE));
    double calS = (System.nanoTime() - t0) / 1e9;
    rows.add(row(label, "calibrate max per-channel (s)", calS, Double.NaN, "", calMem));
    Path qdq = tmp.resolve(label + "_int8.onnx");
    try (CalibratedModel cm = cal[0]) {
      cm.save(qdq);
      for (int batch : steps.contains(Step.FAKE_QUANT) ? new int[] {1, 8} : new int[0]) {
        int b = Math.min(batch, samples);
        Map<String, INDArray> feed = data.batch(0, b);
        double[] ours = new double[1];
        Mem mem = Mem.measure(() -> ours[0] = EngineBenchmark.time(() -> cm.run(feed)) / b);
        double ort = timeOrt(env, qdq, feed.get(in.name()), OrtSession.SessionOptions.OptLevel.NO_OPT) / b;
        rows.add(row(label, "fake-quant forward, batch " + b + " (ms/img; ORT no-opt QDQ)", ours[0], ort, "", mem));
      }
      for (NodeSensitivity.NodeType type :
          steps.contains(Step.SWEEPS)
              ? List.of(NodeSensitivity.NodeType.NODE, NodeSensitivity.NodeType.WEIGHT)
              : List.<NodeSensitivity.NodeType>of()) {
        NodeSensitivity.Options o =
            NodeSensitivity.Options.defaults()
                .nodeType(type)
                .metrics(List.of(Metric.COSINE_SIMILARITY))
                .dataNum(samples);
        NodeSensitivity.Result[] res = new NodeSensitivity.Result[1];
        long s0 = System.nanoTime();
        Mem mem = Mem.measure(() -> res[0] = NodeSensitivity.run(cm, data, o, Progress.NONE));
        double oursS = (System.nanoTime() - s0) / 1e9;
        double ortS = Double.NaN;
        String agree = "";
        if (ortLoop) {
          long o0 = System.nanoTime();
          Map<String, Double> ortScores = ortLoop(env, cm, file, data, samples, NodeSensitivity.candidates(cm, o), tmp);
          ortS = (System.nanoTime() - o0) / 1e9;
          Map<String, Double> ourScores = new LinkedHashMap<>();
          for (String c : res[0].ranking()) {
            ourScores.put(c, res[0].score(c, Metric.COSINE_SIMILARITY));
          }
          agree = agreement(ourScores, ortScores);
          if (scoresDir != null) {
            writeScores(scoresDir.resolve(label.replace(".onnx", "") + "_" + type.label() + "_scores.csv"), ourScores, ortScores);
          }
        }
        rows.add(
            row(label, "sweep " + type.label() + " x" + NodeSensitivity.candidates(cm, o).size() + ", " + samples + " samples (s)", oursS, ortS, agree, mem));
      }
    }
  }

  /**
   * The plain ORT loop: per candidate a QDQ file with only its nodes, each sample run alone.
   *
   * @return each candidate's mean cosine similarity, in candidate order
   */
  static Map<String, Double> ortLoop(
      OrtEnvironment env,
      CalibratedModel cm,
      Path floatFile,
      SampleSet data,
      int n,
      List<NodeSensitivity.Candidate> cands,
      Path tmp)
      throws Exception {
    List<float[]> ref = new ArrayList<>();
    try (OrtSession.SessionOptions opt = options(OrtSession.SessionOptions.OptLevel.NO_OPT);
        OrtSession s = env.createSession(floatFile.toString(), opt)) {
      for (int i = 0; i < n; i++) {
        ref.add(runFirst(env, s, cm.floatModel().inputs().get(0).name(), data.sample(i)));
      }
    }
    Map<String, Double> score = new LinkedHashMap<>();
    Path variant = tmp.resolve("variant.onnx");
    for (NodeSensitivity.Candidate c : cands) {
      Files.deleteIfExists(variant);
      cm.save(variant, c.calibrationNodes());
      double sum = 0;
      try (OrtSession.SessionOptions opt = options(OrtSession.SessionOptions.OptLevel.NO_OPT);
          OrtSession s = env.createSession(variant.toString(), opt)) {
        for (int i = 0; i < n; i++) {
          sum += Metric.cosine(ref.get(i), runFirst(env, s, cm.floatModel().inputs().get(0).name(), data.sample(i)));
        }
      }
      score.put(c.name(), sum / n);
    }
    return score;
  }

  /** Per candidate both sides' scores and ranks, most sensitive (by qdebug) first. */
  static void writeScores(Path file, Map<String, Double> ours, Map<String, Double> ort) throws Exception {
    List<String> ortRanking = ranking(ort);
    StringBuilder sb = new StringBuilder("candidate,qdebug,ort,difference,qdebug_rank,ort_rank\n");
    int rank = 0;
    for (String c : ranking(ours)) {
      sb.append(String.format(Locale.ROOT, "%s,%.12f,%.12f,%.3e,%d,%d%n", c, ours.get(c), ort.get(c), ours.get(c) - ort.get(c), ++rank, ortRanking.indexOf(c) + 1));
    }
    Files.createDirectories(file.getParent());
    Files.writeString(file, sb.toString());
  }

  /** Candidate names, lowest score (most sensitive) first. */
  static List<String> ranking(Map<String, Double> scores) {
    List<String> r = new ArrayList<>(scores.keySet());
    r.sort(Comparator.comparingDouble(scores::get));
    return r;
  }

  static float[] runFirst(OrtEnvironment env, OrtSession s, String input, Map<String, INDArray> feed) throws Exception {
    try (OnnxTensor t = tensor(env, feed.get(input)); OrtSession.Result r = s.run(Map.of(input, t))) {
      Object v = r.get(0).getValue();
      return flatten(v);
    }
  }

  static float[] flatten(Object v) {
    if (v instanceof float[] f) {
      return f;
    }
    List<Float> out = new ArrayList<>();
    flattenInto(v, out);
    float[] f = new float[out.size()];
    for (int i = 0; i < f.length; i++) {
      f[i] = out.get(i);
    }
    return f;
  }

  private static void flattenInto(Object v, List<Float> out) {
    if (v instanceof float[] f) {
      for (float x : f) {
        out.add(x);
      }
    } else {
      for (Object o : (Object[]) v) {
        flattenInto(o, out);
      }
    }
  }

  /**
   * Same top 5 (as sets, and in order), Spearman's rank correlation, the pairs the two sides order
   * differently, and the largest difference between the two engines' scores of one candidate
   * ({@code eps}). Two candidates can swap only where their scores lie within {@code 2 eps} on both
   * sides, so swapped pairs with a tiny {@code eps} (1e-11: float rounding) are near-ties, and a
   * large {@code eps} points at a candidate the engines compute differently (a re-run bug gave
   * 7e-6, its candidates scoring exactly 1).
   */
  static String agreement(Map<String, Double> ours, Map<String, Double> ort) {
    List<String> a = ranking(ours);
    List<String> b = ranking(ort);
    int k = Math.min(5, a.size());
    boolean sameOrder = a.subList(0, k).equals(b.subList(0, k));
    boolean sameSet = new java.util.HashSet<>(a.subList(0, k)).equals(new java.util.HashSet<>(b.subList(0, k)));
    double d2 = 0;
    for (int i = 0; i < a.size(); i++) {
      double d = i - b.indexOf(a.get(i));
      d2 += d * d;
    }
    int n = a.size();
    double rho = n < 2 ? 1 : 1 - 6 * d2 / ((double) n * (n * n - 1));
    double eps = 0;
    for (String c : a) {
      eps = Math.max(eps, Math.abs(ours.get(c) - ort.get(c)));
    }
    int swapped = 0;
    for (int i = 0; i < n; i++) {
      for (int j = i + 1; j < n; j++) {
        double dOurs = ours.get(a.get(j)) - ours.get(a.get(i));
        double dOrt = ort.get(a.get(j)) - ort.get(a.get(i));
        if (Math.signum(dOurs) * Math.signum(dOrt) < 0) {
          swapped++;
        }
      }
    }
    return String.format(
        Locale.ROOT,
        "top-%d %s, rho %.3f, %d pairs swapped, scores within %.1e of ORT's",
        k, sameOrder ? "same order" : sameSet ? "same set" : "differs", rho, swapped, eps);
  }

  static OrtSession.SessionOptions options(OrtSession.SessionOptions.OptLevel level) throws Exception {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    o.setOptimizationLevel(level);
    o.setIntraOpNumThreads(THREADS);
    o.setInterOpNumThreads(1);
    return o;
  }

  static OnnxTensor tensor(OrtEnvironment env, INDArray x) throws Exception {
    if (x.dataType() == DataType.FLOAT) {
      return OnnxTensor.createTensor(env, FloatBuffer.wrap(x.dup('c').data().asFloat()), x.shape());
    }
    long[] v = x.dup('c').data().asLong();
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(v.length);
    for (long e : v) {
      b.put((byte) e);
    }
    b.rewind();
    return OnnxTensor.createTensor(env, b, x.shape(), ai.onnxruntime.OnnxJavaType.UINT8);
  }

  static double timeOrt(OrtEnvironment env, Path model, INDArray x, OrtSession.SessionOptions.OptLevel level)
      throws Exception {
    try (OrtSession.SessionOptions o = options(level);
        OrtSession s = env.createSession(model.toString(), o);
        OnnxTensor t = tensor(env, x)) {
      String name = s.getInputNames().iterator().next();
      return EngineBenchmark.time(() -> s.run(Map.of(name, t)).close());
    }
  }

  static String row(String model, String step, double ours, double ort, String agree, Mem mem) {
    System.err.printf(Locale.ROOT, "%s: %s done (%.2f)%n", model, step, ours);
    return String.format(
        Locale.ROOT,
        "| %s | %s | %.2f | %s | %s | %s | %d | %d | %d | %s |",
        model,
        step,
        ours,
        Double.isNaN(ort) ? "" : String.format(Locale.ROOT, "%.2f", ort),
        Double.isNaN(ort) ? "" : String.format(Locale.ROOT, "%.2fx", ort / ours),
        agree,
        mem.rss >> 20,
        mem.offHeap >> 20,
        mem.heap >> 20,
        loadAverage());
  }

  /** The 1-minute load average (Linux), or "?". */
  static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (Exception e) {
      return "?";
    }
  }

  /** Peak memory of one step. */
  record Mem(long rss, long offHeap, long heap) {
    interface Step {
      void run() throws Exception;
    }

    static Mem measure(Step step) throws Exception {
      System.gc();
      resetRssPeak();
      for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
        p.resetPeakUsage();
      }
      AtomicLong off = new AtomicLong(Pointer.physicalBytes());
      Thread sampler =
          new Thread(
              () -> {
                while (!Thread.currentThread().isInterrupted()) {
                  off.accumulateAndGet(Pointer.physicalBytes(), Math::max);
                  try {
                    Thread.sleep(20);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              });
      sampler.setDaemon(true);
      sampler.start();
      try {
        step.run();
      } finally {
        sampler.interrupt();
        sampler.join();
      }
      off.accumulateAndGet(Pointer.physicalBytes(), Math::max);
      long heap = 0;
      for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
        if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) {
          heap += p.getPeakUsage().getUsed();
        }
      }
      return new Mem(rssPeak(), off.get(), heap);
    }

    /** Resets VmHWM (Linux: write 5 to /proc/self/clear_refs). */
    static void resetRssPeak() {
      try {
        if (System.getenv("BENCH_NO_CLEAR") == null) { Files.writeString(Path.of("/proc/self/clear_refs"), "5"); }
      } catch (Exception e) {
        // not Linux, or not allowed: the peak then covers the whole process so far
      }
    }

    static long rssPeak() {
      try {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
          if (l.startsWith("VmHWM:")) {
            return Long.parseLong(l.replaceAll("[^0-9]", "")) << 10;
          }
        }
      } catch (Exception e) {
        // not Linux
      }
      return -1;
    }
  }
}
