package dev.qdebug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Atomic writes: the user's umask, no leftovers, never over an input while guarded. */
class AtomicFilesTest {
  @TempDir Path tmp;

  /** The shell's umask, e.g. 022. */
  static int umask() throws Exception {
    Process p = new ProcessBuilder("sh", "-c", "umask").start();
    String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
    assertEquals(0, p.waitFor());
    return Integer.parseInt(s, 8);
  }

  static int mode(Set<PosixFilePermission> ps) {
    int m = 0;
    for (PosixFilePermission p : ps) {
      m |= 1 << (8 - p.ordinal()); // OWNER_READ is ordinal 0 = 0400
    }
    return m;
  }

  @Test
  void writtenFilesGetTheUmask() throws Exception {
    Path f = tmp.resolve("sub/out.csv");
    AtomicFiles.write(f, "a,b\n".getBytes(StandardCharsets.UTF_8));
    int mode = mode(Files.getPosixFilePermissions(f));
    assertEquals(0666 & ~umask(), mode, Integer.toOctalString(mode));
    if (umask() == 022) {
      assertTrue(
          Files.getPosixFilePermissions(f)
              .containsAll(EnumSet.of(PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ)));
    }
    // written again: replaced, still the umask's mode, nothing else in the folder
    AtomicFiles.write(f, "c\n".getBytes(StandardCharsets.UTF_8));
    assertEquals("c\n", Files.readString(f));
    assertEquals(0666 & ~umask(), mode(Files.getPosixFilePermissions(f)));
    try (Stream<Path> s = Files.list(tmp.resolve("sub"))) {
      assertEquals(List.of(f), s.toList());
    }
  }

  @Test
  void aLeftoverOfAKilledWriterIsRemoved() throws Exception {
    Path f = tmp.resolve("m.onnx");
    // a pid that does not run: the largest pid Linux allows is below 2^22
    Path stale = tmp.resolve(".m.onnx.4999999.abc.tmp");
    Path live = tmp.resolve(".m.onnx." + ProcessHandle.current().pid() + ".zzz.tmp");
    Path other = tmp.resolve(".n.onnx.4999999.abc.tmp");
    // pid 1 runs, but started after this file was last written (1970): its pid was reused
    Path reused = tmp.resolve(".m.onnx.1.def.tmp");
    for (Path p : List.of(stale, live, other, reused)) {
      Files.writeString(p, "half");
    }
    Files.setLastModifiedTime(reused, java.nio.file.attribute.FileTime.fromMillis(0));
    AtomicFiles.write(f, new byte[] {1, 2, 3});
    assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(f));
    assertFalse(Files.exists(stale), "a dead writer's temporary file goes");
    if (ProcessHandle.of(1).flatMap(h -> h.info().startInstant()).isPresent()) {
      assertFalse(Files.exists(reused), "a file older than the process of its pid goes");
    }
    assertTrue(Files.exists(live), "a running writer's stays");
    assertTrue(Files.exists(other), "another target's stays");
  }

  @Test
  void emptyPathIsAUsageError() {
    var e = assertThrows(UsageException.class, () -> AtomicFiles.write(Path.of(""), new byte[1]));
    assertTrue(e.getMessage().contains("empty"), e.getMessage());
  }

  @Test
  void guardedWritesNeverReplaceAnInput() throws IOException {
    Path in = tmp.resolve("in.npy");
    AtomicFiles.write(in, new byte[] {8}); // unguarded: a program may rewrite its files
    Files.write(in, new byte[] {9});
    Path link = tmp.resolve("link.npy");
    Files.createSymbolicLink(link, in);
    Path hard = tmp.resolve("hard.npy");
    Files.createLink(hard, in);
    Path viaDirLink = tmp.resolve("dirlink");
    Files.createSymbolicLink(viaDirLink, tmp);
    try (Inputs.Scope s = Inputs.open()) {
      Inputs.add(in, "a sample file");
      for (Path out : List.of(in, link, hard, viaDirLink.resolve("in.npy"), tmp.resolve("x/../in.npy"))) {
        QdebugException e =
            assertThrows(
                QdebugException.class, () -> AtomicFiles.write(out, new byte[] {7}), out.toString());
        assertTrue(e.getMessage().contains("in.npy") && e.getMessage().contains("sample"), e.getMessage());
        UsageException u = assertThrows(UsageException.class, () -> Inputs.checkOutput(out, "--csv"));
        assertTrue(u.getMessage().startsWith("--csv: "), u.getMessage());
      }
      AtomicFiles.write(tmp.resolve("other.npy"), new byte[] {7});
    }
    assertArrayEquals(new byte[] {9}, Files.readAllBytes(in));
    AtomicFiles.write(tmp.resolve("out.npy"), new byte[] {7});
    try (Inputs.Scope s = Inputs.open()) {
      // the scope closed: nothing remembered
      AtomicFiles.write(in, new byte[] {6});
    }
    assertArrayEquals(new byte[] {6}, Files.readAllBytes(in));
  }
}
