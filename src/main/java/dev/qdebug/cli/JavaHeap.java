package dev.qdebug.cli;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The Java heap the command line gives itself when the user chose none. qdebug's tensors live
 * outside the heap; what lives in it is small (the parsed model, tables, one batch's scores) but
 * allocated fast, and with the JVM's default maximum (a quarter of the machine's memory) G1 grows
 * the heap far beyond what is live: {@code layer-error} on the MnasNet case study held under 50
 * MiB after each collection and committed up to 650 MiB of heap with {@code -Xmx4g}, 2.2-3.0 GB
 * resident in all, against 1.6-1.9 GB with {@code -Xmx1g}. So the command line starts itself again
 * (as it does for {@code OMP_WAIT_POLICY}) with a heap of {@value #BASE_TEXT} plus room for the
 * models and sample files its arguments name ({@link #choose}), never more than the JVM's default.
 * A user's {@code -Xmx} (or {@code -Xms}, {@code -XX:MaxHeapSize}, {@code -XX:MaxRAMPercentage},
 * ...) wins: then nothing is chosen.
 */
final class JavaHeap {
  /** The heap for small models: 1 GiB. */
  static final long BASE = 1L << 30;

  static final String BASE_TEXT = "1 GiB";

  /** Heap per byte of model file (the parsed model, and a written copy, live in the heap). */
  static final int PER_MODEL_BYTE = 3;

  /** JVM options by which a user chooses the heap (or the memory the JVM sizes it from). */
  private static final String[] HEAP_OPTIONS = {
    "-Xmx", "-Xms", "-XX:MaxHeapSize=", "-XX:InitialHeapSize=", "-XX:MaxRAM=", "-XX:MaxRAMPercentage=",
    "-XX:MinRAMPercentage=", "-XX:InitialRAMPercentage=", "-XX:MaxRAMFraction=", "-XX:MinRAMFraction="
  };

  private JavaHeap() {}

  /** Whether {@code jvmArgs} (the JVM's own options) choose the heap. */
  static boolean chosen(List<String> jvmArgs) {
    for (String a : jvmArgs) {
      for (String o : HEAP_OPTIONS) {
        if (a.startsWith(o)) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * The heap for a command with arguments {@code args}: {@link #BASE} plus {@value
   * #PER_MODEL_BYTE} times the bytes of every ONNX model named (and of the files beside it, which
   * may be its external data), plus the bytes of every {@code .npy} file named or of an {@code
   * images.npy} in a folder named (read whole into the heap); at most {@code jvmDefault} (the
   * JVM's own choice), never less than {@link #BASE} unless the default is less.
   */
  static long choose(String[] args, long jvmDefault) {
    long need = BASE;
    for (String a : args) {
      Path p = path(a);
      if (p == null) {
        continue;
      }
      String name = p.getFileName() == null ? "" : p.getFileName().toString().toLowerCase(Locale.ROOT);
      if (Files.isRegularFile(p) && name.endsWith(".onnx")) {
        need = add(need, PER_MODEL_BYTE * (size(p) + besides(p)));
      } else if (Files.isRegularFile(p) && name.endsWith(".npy")) {
        need = add(need, size(p));
      } else if (Files.isDirectory(p)) {
        need = add(need, size(p.resolve("images.npy")));
      }
    }
    return Math.min(need, jvmDefault);
  }

  /** The JVM options for a heap of {@code bytes}; G1 gives back what it does not use. */
  static List<String> options(long bytes) {
    List<String> o = new ArrayList<>();
    o.add("-Xmx" + Math.max(1, bytes >> 20) + "m");
    o.add("-XX:MinHeapFreeRatio=10");
    o.add("-XX:MaxHeapFreeRatio=30");
    return o;
  }

  /** The path an argument names ({@code --opt=PATH} too), or null when it names nothing. */
  private static Path path(String arg) {
    String a = arg;
    if (a.startsWith("-")) {
      int eq = a.indexOf('=');
      if (eq < 0) {
        return null;
      }
      a = a.substring(eq + 1);
    }
    if (a.isEmpty()) {
      return null;
    }
    try {
      return Path.of(a);
    } catch (InvalidPathException e) {
      return null;
    }
  }

  /** The bytes of the regular files beside {@code model} other than ONNX models and samples. */
  private static long besides(Path model) {
    Path dir = model.toAbsolutePath().getParent();
    long total = 0;
    if (dir == null) {
      return 0;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path f : files) {
        String n = f.getFileName().toString().toLowerCase(Locale.ROOT);
        if (!n.endsWith(".onnx") && !n.endsWith(".npy") && Files.isRegularFile(f)) {
          total = add(total, size(f));
        }
      }
    } catch (IOException | RuntimeException e) {
      return 0;
    }
    return total;
  }

  private static long size(Path p) {
    try {
      return Files.isRegularFile(p) ? Files.size(p) : 0;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  private static long add(long a, long b) {
    long s = a + b;
    return s < 0 ? Long.MAX_VALUE : s;
  }
}
