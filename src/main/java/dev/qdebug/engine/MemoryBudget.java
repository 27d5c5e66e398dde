package dev.qdebug.engine;

import dev.qdebug.UsageException;
import java.util.Locale;
import org.nd4j.linalg.factory.Nd4j;

/**
 * How much memory qdebug lets the tensors of one batch take. Analyses size their batches from it
 * (see {@code dev.qdebug.data.BatchPlan}): a sweep keeps the float tensors of one batch (its
 * snapshot), the session's workspace holds about as much again for a forward pass, and a
 * re-run about as much once more, so a batch of {@code b} samples needs about {@code 3 b} times
 * the bytes of one sample's tensors. Memory is therefore bounded by the budget, not by the number
 * of samples.
 *
 * <p>Without a ceiling the tensors of a batch get {@value #DEFAULT_TENSOR_BYTES_TEXT}. With a
 * ceiling ({@code --max-memory}, or {@link #setCeiling}) the tensors get what is left of it after
 * the model's constants (twice: float and fake-quantized weights) and {@value #RESERVE_TEXT} for
 * the JVM and the native libraries; when even one sample does not fit, {@link #check} fails with
 * a {@link UsageException} naming the ceiling and what needed more.
 *
 * <p>ND4J's own limits on off-heap memory are JavaCPP's system properties {@code
 * -Dorg.bytedeco.javacpp.maxbytes} (bytes of ND4J arrays) and {@code
 * -Dorg.bytedeco.javacpp.maxphysicalbytes} (resident size of the process); beyond them ND4J fails
 * with an {@code OutOfMemoryError} rather than the operating system killing the process. qdebug
 * honors them: a ceiling larger than {@code maxphysicalbytes} is lowered to it.
 */
public final class MemoryBudget {
  /** Tensor bytes of one batch when no ceiling is set: 1.5 GiB. */
  public static final long DEFAULT_TENSOR_BYTES = 3L << 29;

  static final String DEFAULT_TENSOR_BYTES_TEXT = "1.5 GiB";

  /** What a ceiling keeps back for the JVM heap, code and native libraries: 768 MiB. */
  public static final long RESERVE = 768L << 20;

  static final String RESERVE_TEXT = "768 MiB";

  /** Samples per forward pass at most, whatever the budget (the default of {@link #maxBatch}). */
  public static final int MAX_BATCH = 16;

  private static volatile int maxBatch = MAX_BATCH;

  /** The most samples one forward pass stacks. */
  public static int maxBatch() {
    return maxBatch;
  }

  /**
   * Sets the most samples one forward pass stacks (1: every sample alone, as tests comparing
   * batched and single runs do).
   */
  public static void setMaxBatch(int n) {
    if (n < 1) {
      throw new UsageException("batch size must be at least 1, got " + n);
    }
    maxBatch = n;
  }

  private static volatile long ceiling = -1;
  private static volatile String ceilingText = null;

  private MemoryBudget() {}

  /** Sets the ceiling for the whole process ({@code --max-memory}); {@code -1} removes it. */
  public static void setCeiling(long bytes, String asGiven) {
    ceiling = bytes;
    ceilingText = asGiven;
    if (bytes > 0) {
      // ND4J arrays outside a workspace are freed only when the garbage collector finds them
      // unreachable, and their native memory does not count for the heap's collector: under a
      // ceiling ND4J asks for a collection at most every GC_WINDOW_MS while ops run
      Nd4j.getMemoryManager().togglePeriodicGc(true);
      Nd4j.getMemoryManager().setAutoGcWindow(GC_WINDOW_MS);
    }
  }

  /** Under a ceiling, the shortest time between two collections ND4J asks for. */
  static final int GC_WINDOW_MS = 1000;

  /** The ceiling in bytes, or -1 when none is set. */
  public static long ceiling() {
    long c = ceiling;
    long phys = physicalLimit();
    if (phys > 0 && (c < 0 || phys < c)) {
      return phys;
    }
    return c;
  }

  /** JavaCPP's {@code maxphysicalbytes} when set explicitly, else -1. */
  private static long physicalLimit() {
    String p = System.getProperty("org.bytedeco.javacpp.maxphysicalbytes");
    if (p == null) {
      p = System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes");
    }
    if (p == null) {
      return -1;
    }
    try {
      long v = parse(p, "-Dorg.bytedeco.javacpp.maxphysicalbytes");
      return v > 0 ? v : -1;
    } catch (UsageException e) {
      return -1;
    }
  }

  private static String describeCeiling() {
    if (ceiling >= 0 && ceiling == ceiling()) {
      return "--max-memory " + ceilingText;
    }
    return "-Dorg.bytedeco.javacpp.maxphysicalbytes=" + mib(ceiling()) + " MiB";
  }

  /**
   * The bytes the tensors of one batch may take, for a model whose constants take {@code
   * constantBytes}.
   */
  public static long tensorBytes(long constantBytes) {
    long c = ceiling();
    if (c < 0) {
      return DEFAULT_TENSOR_BYTES;
    }
    return c - RESERVE - 2 * constantBytes;
  }

  /**
   * The batch size that fits the budget: {@code copies * perSample * b <= tensorBytes}, between 1
   * and {@code max}.
   *
   * @param what names the model and step, for the error
   * @throws UsageException naming the ceiling when not even one sample fits
   */
  public static int batchSize(
      long perSampleBytes, int copies, long constantBytes, int max, String what) {
    long budget = tensorBytes(constantBytes);
    long one = Math.max(1, perSampleBytes) * copies;
    if (budget < one) {
      check(perSampleBytes, copies, constantBytes, what);
    }
    long b = budget / one;
    return (int) Math.max(1, Math.min(Math.min(max, maxBatch), b));
  }

  /** Fails when a ceiling is set and one sample does not fit it. */
  public static void check(long perSampleBytes, int copies, long constantBytes, String what) {
    long c = ceiling();
    if (c < 0) {
      return;
    }
    long need = RESERVE + 2 * constantBytes + (long) copies * perSampleBytes;
    if (need > c) {
      throw new UsageException(
          describeCeiling()
              + ": too little memory for "
              + what
              + ": one sample needs about "
              + mib(need)
              + " MiB ("
              + mib(2 * constantBytes)
              + " MiB of weights, "
              + mib((long) copies * perSampleBytes)
              + " MiB of tensors, "
              + mib(RESERVE)
              + " MiB for the JVM); give at least --max-memory "
              + (mib(need) + 1)
              + "m");
    }
  }

  private static long mib(long bytes) {
    return (bytes + (1 << 20) - 1) >> 20;
  }

  /**
   * Parses a size: a number of bytes with an optional suffix {@code k}, {@code m}, {@code g}
   * (powers of 1024; {@code kb}, {@code mib}, {@code gb}... also accepted).
   *
   * @throws UsageException naming {@code option} when it is not a positive size
   */
  public static long parse(String text, String option) {
    String s = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
    long unit = 1;
    String digits = s;
    String[][] units = {
      {"gib", "30"}, {"gb", "30"}, {"g", "30"}, {"mib", "20"}, {"mb", "20"}, {"m", "20"},
      {"kib", "10"}, {"kb", "10"}, {"k", "10"}, {"b", "0"}
    };
    for (String[] u : units) {
      if (s.endsWith(u[0])) {
        unit = 1L << Integer.parseInt(u[1]);
        digits = s.substring(0, s.length() - u[0].length()).strip();
        break;
      }
    }
    try {
      double v = Double.parseDouble(digits);
      if (!(v > 0) || digits.contains("e") || digits.contains("n") || v * unit >= Long.MAX_VALUE) {
        throw new NumberFormatException();
      }
      return (long) (v * unit);
    } catch (NumberFormatException e) {
      throw new UsageException(
          option + ": '" + text + "' is not a positive size (examples: 4g, 512m, 1073741824)");
    }
  }
}
