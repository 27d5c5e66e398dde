package dev.qdebug;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes files atomically: into a temporary file in the target's folder, then renamed over the
 * target, so a reader never sees half a file and a failed write leaves the old one intact. Every
 * output qdebug writes goes through here.
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** What writes the content. */
  @FunctionalInterface
  public interface Body {
    void writeTo(OutputStream out) throws IOException;
  }

  /**
   * Writes {@code file} with {@code body}.
   *
   * @throws QdebugException naming the file when it cannot be written
   */
  public static void write(Path file, Body body) {
    Path dir = file.toAbsolutePath().getParent();
    try {
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
      try {
        try (OutputStream out = Files.newOutputStream(tmp)) {
          body.writeTo(out);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new QdebugException(file + ": cannot write: " + e.getMessage(), e);
    }
  }

  /** Writes {@code bytes} to {@code file}. */
  public static void write(Path file, byte[] bytes) {
    write(file, out -> out.write(bytes));
  }
}
