package dev.qdebug.viz;

import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;

/**
 * A small JSON writer for numbers and tables: maps (keys in their order), lists, strings, numbers,
 * booleans and primitive arrays. Non-finite numbers become {@code null} (JSON has no NaN); Plotly
 * draws {@code null} as a gap.
 */
public final class Json {
  private Json() {}

  /** {@code value} as JSON text. */
  public static String of(Object value) {
    StringBuilder b = new StringBuilder();
    append(b, value, 0, true);
    return b.toString();
  }

  /** {@code value} as compact JSON on one line (for Plotly traces). */
  public static String compact(Object value) {
    StringBuilder b = new StringBuilder();
    append(b, value, 0, false);
    return b.toString();
  }

  /** Writes {@code value} as indented JSON to {@code file}, atomically. */
  public static void write(Path file, Object value) {
    Html.writeAtomically(file, of(value) + "\n");
  }

  private static void append(StringBuilder b, Object v, int depth, boolean pretty) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof String s) {
      string(b, s);
    } else if (v instanceof Boolean x) {
      b.append(x);
    } else if (v instanceof Double || v instanceof Float) {
      number(b, ((Number) v).doubleValue());
    } else if (v instanceof Number n) {
      b.append(n.longValue());
    } else if (v instanceof double[] a) {
      b.append('[');
      for (int i = 0; i < a.length; i++) {
        b.append(i == 0 ? "" : ", ");
        number(b, a[i]);
      }
      b.append(']');
    } else if (v instanceof float[] a) {
      b.append('[');
      for (int i = 0; i < a.length; i++) {
        b.append(i == 0 ? "" : ", ");
        number(b, a[i]);
      }
      b.append(']');
    } else if (v instanceof long[] a) {
      b.append('[');
      for (int i = 0; i < a.length; i++) {
        b.append(i == 0 ? "" : ", ").append(a[i]);
      }
      b.append(']');
    } else if (v instanceof int[] a) {
      b.append('[');
      for (int i = 0; i < a.length; i++) {
        b.append(i == 0 ? "" : ", ").append(a[i]);
      }
      b.append(']');
    } else if (v instanceof String[] a) {
      append(b, java.util.Arrays.asList(a), depth, pretty);
    } else if (v instanceof Map<?, ?> m) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        b.append(first ? "" : ",");
        first = false;
        newline(b, depth + 1, pretty);
        string(b, String.valueOf(e.getKey()));
        b.append(pretty ? ": " : ":");
        append(b, e.getValue(), depth + 1, pretty);
      }
      if (!m.isEmpty()) {
        newline(b, depth, pretty);
      }
      b.append('}');
    } else if (v instanceof Collection<?> c) {
      b.append('[');
      boolean first = true;
      for (Object x : c) {
        b.append(first ? "" : ", ");
        first = false;
        append(b, x, depth + 1, pretty);
      }
      b.append(']');
    } else {
      throw new IllegalArgumentException("cannot write " + v.getClass() + " as JSON");
    }
  }

  private static void newline(StringBuilder b, int depth, boolean pretty) {
    if (pretty) {
      b.append('\n').append("  ".repeat(depth));
    }
  }

  private static void number(StringBuilder b, double d) {
    if (Double.isFinite(d)) {
      b.append(
          d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d));
    } else {
      b.append("null");
    }
  }

  /** Appends {@code s} as a JSON string literal (also safe inside an HTML script element). */
  static void string(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '<' -> b.append("\\u003c");
        case '>' -> b.append("\\u003e");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
