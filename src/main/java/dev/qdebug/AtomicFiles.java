package dev.qdebug;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes files atomically: into a temporary file in the target's folder, then renamed over the
 * target, so a reader never sees half a file and a failed (or killed) write leaves the old one
 * intact. Every output qdebug writes goes through here, and here it is checked against the inputs
 * ({@link Inputs}): a file that resolves to something the command reads is refused.
 *
 * <p>The temporary file is created as any new file is, so the written file gets the permissions
 * of the user's umask (0644 under the usual 022), not the owner-only ones of {@link
 * Files#createTempFile}. It is hidden and names the writing process ({@code
 * .<name>.<pid>.<random>.tmp}); one left behind by a killed process is removed by the next write
 * of the same file.
 */
public final class AtomicFiles {
  private static final int MAX_STEM = 100;

  private AtomicFiles() {}

  /** What writes the content. */
  @FunctionalInterface
  public interface Body {
    void writeTo(OutputStream out) throws IOException;
  }

  /**
   * Writes {@code file} with {@code body}.
   *
   * @throws QdebugException naming the file when it cannot be written, is empty, or is an input
   */
  public static void write(Path file, Body body) {
    if (file.toString().isEmpty() || file.getFileName() == null) {
      throw new UsageException("'" + file + "': an empty path is not a file to write");
    }
    Inputs.checkWrite(file);
    Path dir = file.toAbsolutePath().getParent();
    String stem = file.getFileName().toString();
    if (stem.length() > MAX_STEM) {
      stem = stem.substring(0, MAX_STEM);
    }
    try {
      Files.createDirectories(dir);
      removeStale(dir, stem);
      Path tmp = create(dir, stem);
      try {
        try (OutputStream out =
            Files.newOutputStream(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
          body.writeTo(out);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new QdebugException(file + ": cannot write: " + reason(e), e);
    }
  }

  /** Writes {@code bytes} to {@code file}. */
  public static void write(Path file, byte[] bytes) {
    write(file, out -> out.write(bytes));
  }

  /** A new, empty temporary file (mode 0666 less the umask, as open(2) makes it). */
  private static Path create(Path dir, String stem) throws IOException {
    long pid = ProcessHandle.current().pid();
    for (int attempt = 0; ; attempt++) {
      String r = Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36);
      Path tmp = dir.resolve("." + stem + "." + pid + "." + r + ".tmp");
      try {
        Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
        return tmp;
      } catch (FileAlreadyExistsException e) {
        if (attempt > 100) {
          throw e;
        }
      }
    }
  }

  /** Removes temporary files of {@code stem} left by processes that no longer run. */
  private static void removeStale(Path dir, String stem) {
    String prefix = "." + stem + ".";
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, ".*.tmp")) {
      for (Path p : s) {
        String n = p.getFileName().toString();
        if (!n.startsWith(prefix)) {
          continue;
        }
        String[] parts = n.substring(prefix.length()).split("\\.");
        if (parts.length != 3 || !parts[2].equals("tmp")) {
          continue;
        }
        long pid;
        try {
          pid = Long.parseLong(parts[0]);
        } catch (NumberFormatException e) {
          continue;
        }
        if (pid != ProcessHandle.current().pid() && !running(pid, p)) {
          Files.deleteIfExists(p);
        }
      }
    } catch (IOException | RuntimeException ignored) {
      // best effort: a leftover hidden file does no harm
    }
  }

  /**
   * Whether process {@code pid} runs and is the one that made {@code tmp} (a process started after
   * the file was last written has only been given a reused pid).
   */
  private static boolean running(long pid, Path tmp) throws IOException {
    var h = ProcessHandle.of(pid);
    if (h.isEmpty()) {
      return false;
    }
    var started = h.get().info().startInstant();
    return started.isEmpty()
        || !started.get().isAfter(Files.getLastModifiedTime(tmp).toInstant().plusSeconds(1));
  }

  private static String reason(IOException e) {
    String m = e.getMessage();
    String kind = e.getClass().getSimpleName().replace("Exception", "").replaceAll("(?<=[a-z])(?=[A-Z])", " ");
    return m == null ? kind.toLowerCase() : kind.toLowerCase() + " (" + m + ")";
  }
}
