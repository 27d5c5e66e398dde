package dev.qdebug;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;

/**
 * The guard that keeps every output off every input. While a {@link Scope} is open (the command
 * line opens one per command; {@link dev.qdebug.debug.Debugger#open} one for as long as the
 * debugger is open, so a notebook's {@code save} is guarded too), the readers register what they
 * read ({@link dev.qdebug.onnx.OnnxModel#load} the model and its external data files, {@link
 * dev.qdebug.data.SampleSet#open} the samples and labels, {@code infer} its {@code --input}
 * files), and {@link AtomicFiles#write} refuses a file that resolves to one of them: the same real
 * path after symbolic links, or the same file through a hard link. The commands call {@link
 * #checkOutput} on their output options once they have read their inputs, so that the error names
 * the option too. Outside any scope (a program using the library directly) nothing is recorded.
 */
public final class Inputs {
  /** What was read: the path as given, what it was (model, sample, ...), its file key. */
  private record Entry(Path shown, Path real, String role, Object fileKey) {}

  private static final Map<Path, Entry> BY_PATH = new HashMap<>();
  private static final Map<Object, Entry> BY_KEY = new HashMap<>();
  private static int depth;

  private Inputs() {}

  /** An open guard; inputs are forgotten when the last open scope closes. */
  public static final class Scope implements AutoCloseable {
    private boolean closed;

    private Scope() {}

    @Override
    public void close() {
      synchronized (Inputs.class) {
        if (!closed) {
          closed = true;
          if (--depth == 0) {
            BY_PATH.clear();
            BY_KEY.clear();
          }
        }
      }
    }
  }

  /** Starts guarding (nested scopes share the inputs of the outermost). */
  public static Scope open() {
    synchronized (Inputs.class) {
      depth++;
      return new Scope();
    }
  }

  /** Records {@code file} (read as {@code role}, e.g. "the model") as an input. */
  public static void add(Path file, String role) {
    synchronized (Inputs.class) {
      if (depth == 0) {
        return;
      }
    }
    Path real = real(file);
    Object key = fileKey(file);
    Entry e = new Entry(file, real, role, key);
    synchronized (Inputs.class) {
      BY_PATH.putIfAbsent(real, e);
      if (key != null) {
        BY_KEY.putIfAbsent(key, e);
      }
    }
  }

  /**
   * Checks an output named by {@code option} (a file, or a folder to write into).
   *
   * @throws UsageException when the path is empty or resolves to an input, naming both
   */
  public static void checkOutput(Path out, String option) {
    if (out == null) {
      return;
    }
    if (out.toString().isEmpty()) {
      throw new UsageException(option + ": the path is empty; give a file or folder name");
    }
    Entry e = find(out);
    if (e != null) {
      throw new UsageException(option + ": " + describe(out, e) + "; choose another output");
    }
  }

  /** As {@link #checkOutput} for a file about to be written, without an option to name. */
  static void checkWrite(Path file) {
    Entry e = find(file);
    if (e != null) {
      throw new QdebugException(describe(file, e) + "; refusing to overwrite it");
    }
  }

  private static String describe(Path out, Entry e) {
    boolean same = out.toAbsolutePath().normalize().equals(e.shown().toAbsolutePath().normalize());
    return same
        ? out + " is " + e.role() + " this command reads"
        : out + " resolves to " + e.shown() + ", " + e.role() + " this command reads";
  }

  private static Entry find(Path p) {
    synchronized (Inputs.class) {
      if (depth == 0 || BY_PATH.isEmpty()) {
        return null;
      }
    }
    Path real = real(p);
    Object key = fileKey(p);
    synchronized (Inputs.class) {
      Entry e = BY_PATH.get(real);
      if (e != null) {
        return e;
      }
      e = key == null ? null : BY_KEY.get(key);
      // the same file through another name (a hard link), if the input is still that file
      if (e != null && key.equals(fileKey(e.real()))) {
        return e;
      }
      return null;
    }
  }

  /**
   * The real path: the longest existing part resolved through symbolic links, the rest appended
   * (an output that does not exist yet still resolves through its folder's links).
   */
  private static Path real(Path p) {
    Path abs = p.toAbsolutePath().normalize();
    Path existing = abs;
    Path rest = null;
    while (existing != null && !Files.exists(existing)) {
      Path name = existing.getFileName();
      if (name == null) {
        return abs;
      }
      rest = rest == null ? name : name.resolve(rest);
      existing = existing.getParent();
    }
    if (existing == null) {
      return abs;
    }
    try {
      Path r = existing.toRealPath();
      return rest == null ? r : r.resolve(rest).normalize();
    } catch (IOException e) {
      return abs;
    }
  }

  /** The file system's key (device and inode) of an existing regular file, else null. */
  private static Object fileKey(Path p) {
    try {
      BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
      return a.isRegularFile() ? a.fileKey() : null;
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    }
  }
}
