package dev.qdebug;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The one rule for every file or folder name qdebug derives from data (model input names, node and
 * tensor names): a single file name, never a path. Every character outside {@code
 * [A-Za-z0-9._-]} becomes {@code _} (so {@code /net/conv} gives {@code _net_conv}, as Horizon
 * names its files); a name that would be empty, {@code .} or {@code ..} gets a leading {@code _};
 * a name longer than {@value #MAX_LENGTH} characters is cut and ends with a hash of the whole
 * name. {@link Unique} also keeps two different names that map to the same file apart.
 */
public final class SafeNames {
  /** The longest name made (file systems take 255 bytes; this leaves room for suffixes). */
  public static final int MAX_LENGTH = 120;

  private SafeNames() {}

  /** {@code name} as a single safe file name. */
  public static String of(String name) {
    StringBuilder b = new StringBuilder(Math.min(name.length(), MAX_LENGTH + 16));
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean ok =
          (c >= 'A' && c <= 'Z')
              || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9')
              || c == '.'
              || c == '_'
              || c == '-';
      b.append(ok ? c : '_');
    }
    String s = b.toString();
    if (s.isEmpty() || s.equals(".") || s.equals("..")) {
      s = "_" + s;
    }
    if (s.length() > MAX_LENGTH) {
      s = s.substring(0, MAX_LENGTH - 9) + "_" + hash(name);
    }
    return s;
  }

  /** Whether {@code name} is already a safe file name ({@link #of} leaves it as it is). */
  public static boolean isSafe(String name) {
    return of(name).equals(name);
  }

  private static String hash(String name) {
    int h = 0x811c9dc5;
    for (byte x : name.getBytes(StandardCharsets.UTF_8)) {
      h = (h ^ (x & 0xff)) * 0x01000193;
    }
    return String.format("%08x", h);
  }

  /**
   * Safe names for one folder: the same name always gets the same file name, and two names that
   * map to the same file name (ignoring case, for case-insensitive file systems) get {@code _2},
   * {@code _3}, ... appended in the order they are first asked for.
   */
  public static final class Unique {
    private final Map<String, String> byName = new HashMap<>();
    private final Map<String, String> taken = new HashMap<>(); // lower-case file name -> name

    /** The file name of {@code name} in this folder. */
    public synchronized String of(String name) {
      String done = byName.get(name);
      if (done != null) {
        return done;
      }
      String base = SafeNames.of(name);
      String s = base;
      for (int k = 2; taken.containsKey(s.toLowerCase(Locale.ROOT)); k++) {
        s = base + "_" + k;
      }
      taken.put(s.toLowerCase(Locale.ROOT), name);
      byName.put(name, s);
      return s;
    }

    /**
     * A file name for {@code name} not given out before in this folder, even when {@code name}
     * itself was: for a list of items that each write their own file.
     */
    public synchronized String next(String name) {
      String base = SafeNames.of(name);
      String s = base;
      for (int k = 2; taken.containsKey(s.toLowerCase(Locale.ROOT)); k++) {
        s = base + "_" + k;
      }
      taken.put(s.toLowerCase(Locale.ROOT), name);
      return s;
    }
  }
}
