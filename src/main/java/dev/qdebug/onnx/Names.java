package dev.qdebug.onnx;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/** Suggestions for a mistyped name: the closest candidates by edit distance. */
public final class Names {
  private Names() {}

  /**
   * Up to {@code n} of {@code candidates}, closest to {@code name} first: edit distance, less three
   * per word the two share (words split at anything but letters and digits), so that a long
   * exported name like {@code /net/features.3/Conv} finds {@code /net/features.3/fused/Conv}
   * before {@code /net/features.3/Relu}.
   */
  public static List<String> closest(String name, Collection<String> candidates, int n) {
    String lower = name.toLowerCase();
    java.util.Set<String> words = words(lower);
    return candidates.stream()
        .sorted(
            Comparator.comparingInt((String c) -> score(lower, words, c.toLowerCase()))
                .thenComparing(c -> c))
        .limit(n)
        .toList();
  }

  private static int score(String name, java.util.Set<String> words, String candidate) {
    int shared = 0;
    for (String w : words(candidate)) {
      if (words.contains(w)) {
        shared++;
      }
    }
    return distance(name, candidate) - 3 * shared;
  }

  private static java.util.Set<String> words(String s) {
    java.util.Set<String> out = new java.util.HashSet<>();
    for (String w : s.split("[^a-z0-9]+")) {
      if (!w.isEmpty()) {
        out.add(w);
      }
    }
    return out;
  }

  /** Levenshtein distance; a candidate containing the name counts as close. */
  static int distance(String a, String b) {
    if (b.contains(a) || a.contains(b)) {
      return Math.abs(a.length() - b.length()) / 4;
    }
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
