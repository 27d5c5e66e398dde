package dev.qdebug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The one rule for file names made from data. */
class SafeNamesTest {
  @Test
  void everyNameBecomesOneSafeFileName() {
    assertEquals("_net_stem_Conv", SafeNames.of("/net/stem/Conv"));
    assertEquals("blk_z", SafeNames.of("blk/z"));
    assertEquals("input.1", SafeNames.of("input.1"));
    assertEquals("__", SafeNames.of("::"));
    assertEquals(".._x", SafeNames.of("../x"));
    assertEquals("_abs_x", SafeNames.of("/abs/x"));
    assertEquals("_..", SafeNames.of(".."));
    assertEquals("_.", SafeNames.of("."));
    assertEquals("_", SafeNames.of(""));
    assertEquals("a_b", SafeNames.of("a\0b"));
    assertEquals("x_____", SafeNames.of("x\\€é\n "));
    for (String n : List.of("../x", "/abs/x", "..", ".", "", "a/../../b", "C:\\x", "x".repeat(400))) {
      String s = SafeNames.of(n);
      assertTrue(s.matches("[A-Za-z0-9._-]+"), s);
      assertTrue(s.length() <= SafeNames.MAX_LENGTH, s);
      Path p = Path.of("/base").resolve(s).normalize();
      assertEquals(Path.of("/base"), p.getParent(), "a single name inside the folder: " + n);
    }
    assertTrue(SafeNames.isSafe("a.b-c_d"));
    assertTrue(!SafeNames.isSafe("a/b"));
  }

  @Test
  void longNamesKeepApartByTheirHash() {
    String a = "n".repeat(300) + "a";
    String b = "n".repeat(300) + "b";
    assertEquals(SafeNames.MAX_LENGTH, SafeNames.of(a).length());
    assertNotEquals(SafeNames.of(a), SafeNames.of(b));
    assertEquals(SafeNames.of(a), SafeNames.of(a));
  }

  @Test
  void collisionsInOneFolderGetSuffixes() {
    SafeNames.Unique u = new SafeNames.Unique();
    assertEquals("a_b", u.of("a/b"));
    assertEquals("a_b_2", u.of("a_b"));
    assertEquals("a_b", u.of("a/b"), "the same name, the same file");
    assertEquals("A_B_3", u.of("A:B"), "case-insensitive file systems");
    assertEquals("a_b_4", u.next("a/b"), "next: a fresh file even for a known name");
  }
}
