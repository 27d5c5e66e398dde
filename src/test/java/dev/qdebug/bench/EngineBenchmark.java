package dev.qdebug.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.qdebug.engine.Session;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.ValueInfo;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Float forward throughput of the engine against ONNX Runtime Java on the same models, in one
 * run, at batch 1 and 8: a benchmark, not a test (Surefire does not pick it up by name). ORT runs
 * twice: with all graph optimizations (its best) and with none (the configuration qdebug uses
 * ORT in as an oracle). Prints a Markdown table of milliseconds per image and ratios.
 *
 * <pre>
 * mvn -q test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=dev.qdebug.bench.EngineBenchmark [-Dexec.args="model.onnx ..."]
 * </pre>
 *
 * Without arguments it runs the models under {@code data/models} and {@code
 * src/test/resources/models} whose input is float. Run it on a quiet machine with {@code
 * OMP_WAIT_POLICY=PASSIVE}.
 */
public final class EngineBenchmark {
  static final int WARMUP = 4;
  static final int MIN_RUNS = 5;
  static final double MIN_SECONDS = 2.0;

  public static void main(String[] args) throws Exception {
    List<Path> models = new ArrayList<>();
    if (args.length > 0) {
      Arrays.stream(args).map(Path::of).forEach(models::add);
    } else {
      for (String dir : new String[] {"data/models", "src/test/resources/models"}) {
        if (Files.isDirectory(Path.of(dir))) {
          try (Stream<Path> s = Files.list(Path.of(dir))) {
            s.filter(p -> p.toString().endsWith(".onnx")).sorted().forEach(models::add);
          }
        }
      }
    }
    System.out.println("| model | batch | qdebug ms/img | qdebug unfused ms/img | ORT all-opt ms/img | ORT no-opt ms/img | qdebug / ORT all-opt | qdebug / ORT no-opt |");
    System.out.println("|---|---|---|---|---|---|---|---|");
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    for (Path p : models) {
      OnnxModel m = OnnxModel.load(p);
      if (m.inputs().size() != 1) {
        continue;
      }
      ValueInfo in = m.inputs().get(0);
      boolean fixedBatch = in.shape()[0] == 1;
      for (int batch : new int[] {1, 8}) {
        if (fixedBatch && batch > 1) {
          continue;
        }
        long[] shape = in.shape().clone();
        shape[0] = batch;
        INDArray x = input(in, shape);
        double ours;
        try (Session s = Session.open(m)) {
          ours = time(() -> s.run(Map.of(in.name(), x))) / batch;
        }
        double unfused;
        System.setProperty(dev.qdebug.engine.Plan.FUSE_PROPERTY, "false");
        try (Session s = Session.open(m)) {
          unfused = time(() -> s.run(Map.of(in.name(), x))) / batch;
        } finally {
          System.clearProperty(dev.qdebug.engine.Plan.FUSE_PROPERTY);
        }
        double all = timeOrt(env, p, in, x, OrtSession.SessionOptions.OptLevel.ALL_OPT) / batch;
        double none = timeOrt(env, p, in, x, OrtSession.SessionOptions.OptLevel.NO_OPT) / batch;
        System.out.printf(
            "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |%n",
            p.getFileName(), batch, ours, unfused, all, none, ours / all, ours / none);
      }
    }
  }

  static INDArray input(ValueInfo in, long[] shape) {
    Nd4j.getRandom().setSeed(1);
    INDArray x = Nd4j.rand(DataType.FLOAT, shape);
    if (in.type() == dev.qdebug.onnx.ElemType.UINT8) {
      return x.muli(255).castTo(DataType.UBYTE);
    }
    return x;
  }

  interface Body {
    void run() throws Exception;
  }

  /** Median milliseconds per call after warm-up. */
  static double time(Body body) throws Exception {
    for (int i = 0; i < WARMUP; i++) {
      body.run();
    }
    List<Double> ms = new ArrayList<>();
    long start = System.nanoTime();
    while (ms.size() < MIN_RUNS || (System.nanoTime() - start) / 1e9 < MIN_SECONDS) {
      long t = System.nanoTime();
      body.run();
      ms.add((System.nanoTime() - t) / 1e6);
    }
    ms.sort(Double::compare);
    return ms.get(ms.size() / 2);
  }

  static double timeOrt(
      OrtEnvironment env, Path model, ValueInfo in, INDArray x, OrtSession.SessionOptions.OptLevel level)
      throws Exception {
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setOptimizationLevel(level);
      o.setIntraOpNumThreads(2);
      try (OrtSession s = env.createSession(model.toString(), o)) {
        OnnxTensor t;
        if (x.dataType() == DataType.FLOAT) {
          t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.dup('c').data().asFloat()), x.shape());
        } else {
          long[] v = x.dup('c').data().asLong();
          java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(v.length);
          for (long e : v) {
            b.put((byte) e);
          }
          b.rewind();
          t = OnnxTensor.createTensor(env, b, x.shape(), ai.onnxruntime.OnnxJavaType.UINT8);
        }
        try (t) {
          return time(() -> s.run(Map.of(in.name(), t)).close());
        }
      }
    }
  }
}
