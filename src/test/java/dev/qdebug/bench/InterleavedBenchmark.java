package dev.qdebug.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.qdebug.Ort;
import dev.qdebug.engine.Plan;
import dev.qdebug.engine.Session;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.ValueInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Float forward of qdebug (fused and unfused plan) and ONNX Runtime (all optimizations and none),
 * timed in interleaved rounds (one run of each per round) so that a busy machine's drifting load
 * hits all four alike (the order is shuffled every round); prints medians in ms per image and ORT's time over qdebug's. Not a test.
 *
 * <pre>
 * java -Xss16m -cp ... dev.qdebug.bench.InterleavedBenchmark [--rounds N] model.onnx ...
 * </pre>
 */
public final class InterleavedBenchmark {
  public static void main(String[] args) throws Exception {
    int rounds = 25;
    List<Path> models = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--rounds")) {
        rounds = Integer.parseInt(args[++i]);
      } else {
        models.add(Path.of(args[i]));
      }
    }
    System.out.println(
        "| model | batch | qdebug ms/img | unfused ms/img | ORT all-opt ms/img | ORT no-opt ms/img"
            + " | ORT all-opt / qdebug | ORT no-opt / qdebug | unfused / fused |");
    System.out.println("|---|---|---|---|---|---|---|---|---|");
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    for (Path p : models) {
      OnnxModel m = OnnxModel.load(p);
      ValueInfo in = m.inputs().get(0);
      for (int batch : new int[] {1, 8}) {
        long[] shape = in.shape().clone();
        shape[0] = batch;
        INDArray x = EngineBenchmark.input(in, shape);
        Map<String, INDArray> feed = Map.of(in.name(), x);
        Session fused = Session.open(m);
        System.setProperty(Plan.FUSE_PROPERTY, "false");
        Session unfused = Session.open(m);
        System.clearProperty(Plan.FUSE_PROPERTY);
        OrtSession all = ort(env, p, OrtSession.SessionOptions.OptLevel.ALL_OPT);
        OrtSession none = ort(env, p, OrtSession.SessionOptions.OptLevel.NO_OPT);
        try (OnnxTensor t = Ort.tensor(env, x)) {
          Map<String, OnnxTensor> ortFeed = Map.of(in.name(), t);
          EngineBenchmark.Body[] bodies = {
            () -> fused.run(feed),
            () -> unfused.run(feed),
            () -> all.run(ortFeed).close(),
            () -> none.run(ortFeed).close()
          };
          for (EngineBenchmark.Body b : bodies) {
            for (int w = 0; w < EngineBenchmark.WARMUP; w++) {
              b.run();
            }
          }
          double[][] ms = new double[bodies.length][rounds];
          java.util.Random shuffle = new java.util.Random(1);
          List<Integer> order = new ArrayList<>(List.of(0, 1, 2, 3));
          for (int r = 0; r < rounds; r++) {
            // a fresh order each round: what a run leaves behind (ORT's threads spin-wait for a
            // while after a run) must not always hit the same follower, as a fixed or rotated
            // order would make it
            java.util.Collections.shuffle(order, shuffle);
            for (int i : order) {
              long t0 = System.nanoTime();
              bodies[i].run();
              ms[i][r] = (System.nanoTime() - t0) / 1e6 / batch;
            }
          }
          double q = median(ms[0]);
          double u = median(ms[1]);
          double a = median(ms[2]);
          double n = median(ms[3]);
          System.out.printf(
              Locale.ROOT,
              "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2fx | %.2fx | %.2fx |%n",
              p.getFileName(), batch, q, u, a, n, a / q, n / q, u / q);
        } finally {
          fused.close();
          unfused.close();
          all.close();
          none.close();
        }
      }
    }
  }

  static OrtSession ort(OrtEnvironment env, Path model, OrtSession.SessionOptions.OptLevel level)
      throws Exception {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    o.setOptimizationLevel(level);
    o.setIntraOpNumThreads(2);
    return env.createSession(model.toString(), o);
  }

  static double median(double[] v) {
    double[] s = v.clone();
    java.util.Arrays.sort(s);
    return s[s.length / 2];
  }
}
