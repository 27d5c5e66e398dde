package dev.qdebug.engine;

import dev.qdebug.QdebugException;
import dev.qdebug.UsageException;
import java.lang.reflect.Method;
import java.util.Locale;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.factory.Nd4j;

/**
 * How much memory qdebug lets the tensors of one batch take. Analyses size their batches from it
 * (see {@code dev.qdebug.data.BatchPlan}): a sweep keeps the float tensors of one batch (its
 * snapshot), the session's workspace holds about as much again for a forward pass, and a
 * re-run about as much once more, so a batch of {@code b} samples needs about {@code 3 b} times
 * the bytes of one sample's tensors. Memory is therefore bounded by the budget, not by the number
 * of samples.
 *
 * <p>Without a ceiling the tensors of a batch get {@value #DEFAULT_TENSOR_BYTES_TEXT} (or {@code
 * -D}{@value #TENSOR_BYTES_PROPERTY}). With a
 * ceiling ({@code --max-memory}, or {@link #setCeiling}) the tensors get what is left of it after
 * the model's constants (twice: float and fake-quantized weights) and {@value #RESERVE_TEXT} for
 * the JVM and the native libraries; when even one sample does not fit, {@link #check} fails with
 * a {@link UsageException} naming the ceiling and what needed more.
 *
 * <p>The ceiling is also a hard cap on the resident size of the process, enforced twice: {@link
 * #enforce} (every {@link Session} run calls it) fails with a {@link CeilingExceeded} naming the
 * step, the resident size and the ceiling once the process holds more than the ceiling after a
 * garbage collection and a trim of the C heap; and the command line sets JavaCPP's {@code
 * -Dorg.bytedeco.javacpp.maxphysicalbytes} to the ceiling before ND4J loads, so that JavaCPP
 * fails the next native allocation past it with an {@code OutOfMemoryError} (see {@link
 * #outOfMemory}), inside a forward pass too. ({@code -Dorg.bytedeco.javacpp.maxbytes} does not
 * bound ND4J's arrays: ND4J allocates them outside JavaCPP's byte count.) A ceiling larger than
 * {@code maxphysicalbytes} is lowered to it.
 */
public final class MemoryBudget {
  /** Tensor bytes of one batch when no ceiling is set: 1.5 GiB. */
  public static final long DEFAULT_TENSOR_BYTES = 3L << 29;

  static final String DEFAULT_TENSOR_BYTES_TEXT = "1.5 GiB";

  /**
   * System property: the bytes a batch's tensors get when no ceiling is set, instead of {@link
   * #DEFAULT_TENSOR_BYTES} (a size: {@code 512m}). The notebook kernel sets less, since a notebook
   * keeps models and results between cells.
   */
  public static final String TENSOR_BYTES_PROPERTY = "qdebug.memory.tensorBytes";

  /** What a ceiling keeps back for the JVM heap, code and native libraries: 768 MiB. */
  public static final long RESERVE = 768L << 20;

  static final String RESERVE_TEXT = "768 MiB";

  /** Samples per forward pass at most, whatever the budget (the default of {@link #maxBatch}). */
  public static final int MAX_BATCH = 256;

  /**
   * Samples a batch may hold whatever their size, when the budget allows: beyond it, a batch holds
   * up to {@link #BATCH_BYTES} of tensors. Small models need the large batches: ND4J's per-call
   * cost and oneDNN's re-layout of the weights on every convolution are paid once per batch. The
   * 32x32 RepVGG case study (148 KiB of tensors per sample) evaluates 2,000 images 5x faster in
   * batches of 256 than of 16. Measured 2026-12-07 and left out: the MobileViT and MnasNet case
   * studies (6-8 MiB per sample) gain 1.3-1.6x in batches of 32-64, but the command line's
   * {@code layer-error} on the MnasNet one then peaks at 3.1 GB instead of 1.6 GB; up to 64 MiB
   * a batch never holds more than 16 samples of a 4 MiB model held before.
   */
  public static final int SMALL_BATCH = 16;

  /** One copy of a batch's tensors up to which more than {@link #SMALL_BATCH} samples stack: 64 MiB. */
  public static final long BATCH_BYTES = 64L << 20;

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

  /**
   * System property for tests: the bytes {@link #check} and {@link #tensorBytes} keep back for the
   * JVM and the native libraries instead of {@link #RESERVE}.
   */
  public static final String RESERVE_PROPERTY = "qdebug.memory.reserve";

  private static long reserve() {
    String r = System.getProperty(RESERVE_PROPERTY);
    return r == null ? RESERVE : parse(r, "-D" + RESERVE_PROPERTY);
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
      String given = System.getProperty(TENSOR_BYTES_PROPERTY);
      return given == null ? DEFAULT_TENSOR_BYTES : parse(given, "-D" + TENSOR_BYTES_PROPERTY);
    }
    return c - reserve() - 2 * constantBytes;
  }

  /**
   * The batch size that fits the budget: {@code copies * perSample * b <= tensorBytes}, between 1
   * and {@code max}, and at most {@link #SMALL_BATCH} samples or {@link #BATCH_BYTES} of tensors,
   * whichever holds more.
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
    long b = Math.min(budget / one, Math.max(SMALL_BATCH, BATCH_BYTES / Math.max(1, perSampleBytes)));
    return (int) Math.max(1, Math.min(Math.min(max, maxBatch), b));
  }

  /** Fails when a ceiling is set and one sample does not fit it. */
  public static void check(long perSampleBytes, int copies, long constantBytes, String what) {
    step(what);
    long c = ceiling();
    if (c < 0) {
      return;
    }
    long reserve = reserve();
    long need = reserve + 2 * constantBytes + (long) copies * perSampleBytes;
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
              + mib(reserve)
              + " MiB for the JVM); give at least --max-memory "
              + (mib(need) + 1)
              + "m");
    }
  }

  private static volatile String step = null;

  /**
   * Names the step that runs now ("get-sensitivity-of-nodes of model.onnx"), for the error when
   * the ceiling is exceeded; {@link #check} and {@link #batchSize} set it from their {@code
   * what}. Analyses that do not plan batches may call it themselves.
   */
  public static void step(String what) {
    step = what;
  }

  /** The step named last by {@link #step(String)}, or null. */
  public static String step() {
    return step;
  }

  /**
   * The process's resident memory now, in bytes, as JavaCPP reads it on Linux: resident minus
   * shared pages ({@code /proc/self/statm}), i.e. the memory the process allocated itself; the
   * pages of mapped library files, which the system can drop, are not counted.
   */
  public static long resident() {
    return Pointer.physicalBytes();
  }

  /**
   * JavaCPP's private {@code Pointer.trimMemory}, looked up on first use: loading {@code Pointer}
   * reads {@code maxphysicalbytes}, which {@link #presetPhysicalLimit} must set before.
   */
  private static final class Trim {
    static final Method METHOD = find();

    private static Method find() {
      try {
        Method m = Pointer.class.getDeclaredMethod("trimMemory");
        m.setAccessible(true);
        return m;
      } catch (ReflectiveOperationException | RuntimeException e) {
        return null;
      }
    }
  }

  /**
   * Gives the C heap's free memory back to the operating system ({@code malloc_trim} through
   * JavaCPP): glibc keeps memory that ND4J freed resident until then. Returns whether anything
   * was released (false where it is not supported).
   */
  public static boolean trim() {
    Method m = Trim.METHOD;
    if (m == null) {
      return false;
    }
    try {
      return (Boolean) m.invoke(null);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return false;
    }
  }

  /** The process held more memory than the ceiling allows. Exit status 2 on the command line. */
  public static final class CeilingExceeded extends QdebugException {
    CeilingExceeded(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Fails when a ceiling is set and the process's resident size is above it even after a garbage
   * collection and a trim of the C heap. Cheap when no ceiling is set, one read of the resident
   * size when one is (every {@link Session} run calls it, before and after).
   *
   * @throws CeilingExceeded naming the step, the resident size and the ceiling
   */
  public static void enforce() {
    long c = ceiling();
    if (c < 0) {
      return;
    }
    long r = resident();
    if (r <= c) {
      return;
    }
    // unreachable ND4J arrays and the heap's garbage, then what glibc kept: both count as resident
    System.gc();
    trim();
    r = resident();
    if (r <= c) {
      return;
    }
    throw new CeilingExceeded(exceeded("the process holds " + mib(r) + " MiB"), null);
  }

  private static String exceeded(String need) {
    String s = step;
    return describeCeiling()
        + ": "
        + (s == null ? "qdebug" : s)
        + " needs more memory than that: "
        + need
        + " (ceiling "
        + mib(ceiling())
        + " MiB); give a larger --max-memory";
  }

  /**
   * The one-line error for an {@code OutOfMemoryError} anywhere in {@code e}'s causes (JavaCPP's
   * physical-bytes limit, which the command line sets from {@code --max-memory}, or the JVM's
   * heap), naming the step and the limit; null when there is none.
   */
  public static QdebugException outOfMemory(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof CeilingExceeded c) {
        return c;
      }
      if (t instanceof OutOfMemoryError oom) {
        String m = String.valueOf(oom.getMessage());
        String s = step == null ? "qdebug" : step;
        if (ceiling() > 0 && !m.contains("heap space") && !m.contains("GC overhead")) {
          long r = resident();
          return new CeilingExceeded(
              exceeded("the process holds " + mib(r) + " MiB and needed more"), oom);
        }
        return new CeilingExceeded(
            s
                + ": out of memory ("
                + m
                + ") with a "
                + mib(Runtime.getRuntime().maxMemory())
                + " MiB Java heap; give java a larger -Xmx or set --max-memory to have batches"
                + " shrink",
            oom);
      }
    }
    return null;
  }

  /**
   * For the command line, before ND4J loads: sets JavaCPP's {@code maxphysicalbytes} to the
   * {@code --max-memory} among {@code args} (when valid and no lower limit is set), so that the
   * ceiling holds inside forward passes too; without {@code --max-memory} (and no limit set by the
   * user) to 0, no limit, as the notebook kernel does: with a limit JavaCPP reads the process's
   * resident size at every native allocation, which ND4J makes for every array it creates (3-5 ms
   * of a 12-17 ms forward of the MobileViT case study at batch 1, measured). JavaCPP reads it
   * once, when its {@code Pointer} class initialises: later calls change nothing.
   */
  public static void presetPhysicalLimit(String[] args) {
    String given = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--max-memory") && i + 1 < args.length) {
        given = args[i + 1];
      } else if (args[i].startsWith("--max-memory=")) {
        given = args[i].substring("--max-memory=".length());
      }
    }
    if (given == null) {
      if (System.getProperty("org.bytedeco.javacpp.maxphysicalbytes") == null
          && System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null) {
        System.setProperty("org.bytedeco.javacpp.maxphysicalbytes", "0");
      }
      return;
    }
    long bytes;
    try {
      bytes = parse(given, "--max-memory");
    } catch (UsageException e) {
      return; // the command reports it
    }
    long phys = physicalLimit();
    if (phys < 0 || bytes < phys) {
      System.setProperty("org.bytedeco.javacpp.maxphysicalbytes", Long.toString(bytes));
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
