package dev.qdebug;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The guard that keeps every output off every input. The readers register what they read ({@link
 * dev.qdebug.onnx.OnnxModel#load} the model and its external data files, {@link
 * dev.qdebug.data.SampleSet#open} the samples and labels, {@code infer} its {@code --input} files);
 * {@link AtomicFiles#write} refuses a file that resolves (after symbolic links, or as a hard link to
 * the same file) to one of them, and the commands call {@link #checkOutput} on their output options
 * before they start working, so that the error names the option too. The command line starts each
 * command with an empty registry ({@link #clear}); in a program or notebook the registry holds
 * every file read since.
 */
public final class Inputs {
  /** What was read: the path as given, and what it was (model, sample, ...). */
  private record Entry(Path shown, String role) {}

  private static final Map<Object, Entry> READ = new ConcurrentHashMap<>();

  private Inputs() {}

  /** Records {@code file} (read as {@code role}, e.g. "the model") as an input. */
  public static void add(Path file, String role) {
    Entry e = new Entry(file, role);
    for (Object k : keys(file)) {
      READ.putIfAbsent(k, e);
    }
  }

  /** Forgets every input (the command line does so before and after each command). */
  public static void clear() {
    READ.clear();
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
    if (READ.isEmpty()) {
      return null;
    }
    for (Object k : keys(p)) {
      Entry e = READ.get(k);
      if (e != null) {
        return e;
      }
    }
    return null;
  }

  /**
   * The keys a path is known by: its real path (the longest existing part resolved through
   * symbolic links, the rest appended) and, for an existing file, the file system's file key
   * (device and inode), which hard links share.
   */
  private static Object[] keys(Path p) {
    Path abs = p.toAbsolutePath().normalize();
    Path existing = abs;
    Path rest = null;
    while (existing != null && !Files.exists(existing)) {
      Path name = existing.getFileName();
      rest = rest == null ? name : name.resolve(rest);
      existing = existing.getParent();
    }
    Path real = abs;
    Object fileKey = null;
    if (existing != null) {
      try {
        Path r = existing.toRealPath();
        real = rest == null ? r : r.resolve(rest).normalize();
        if (rest == null) {
          fileKey =
              Files.readAttributes(existing, BasicFileAttributes.class).fileKey();
        }
      } catch (IOException ignored) {
        // keep the absolute path
      }
    }
    return fileKey == null ? new Object[] {real} : new Object[] {real, fileKey};
  }
}
