package dev.qdebug.viz;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Locale;
import tech.tablesaw.api.Table;
import tech.tablesaw.columns.Column;

/**
 * Numbers for people: {@value #DIGITS} significant digits in tables and figures (CSV and JSON
 * keep full precision), plain notation between 1e-4 and 1e6, else scientific. Between 0.9 and 1
 * (cosine similarities) the digits counted are those after the leading nines, so 0.999630 shows
 * as 0.99963, not 0.9996.
 */
public final class Fmt {
  /** Significant digits shown. */
  public static final int DIGITS = 4;

  private Fmt() {}

  /** {@code v} rounded to {@value #DIGITS} significant digits; integers as they are. */
  public static String num(Number v) {
    if (!(v instanceof Double || v instanceof Float)) {
      return v.toString();
    }
    double d = v.doubleValue();
    if (Double.isNaN(d)) {
      return "NaN";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "inf" : "-inf";
    }
    if (d == 0) {
      return "0";
    }
    double a = Math.abs(d);
    if (a < 1e-4 || a >= 1e6) {
      return String.format(Locale.ROOT, "%." + (DIGITS - 1) + "e", d);
    }
    if (a >= 0.9 && a < 1) {
      // near 1 (cosine similarities): the significant digits are those after the nines
      int nines = 0;
      for (double f = a * 10; nines < 6 && (int) f == 9; f = (f - 9) * 10) {
        nines++;
      }
      BigDecimal b = new BigDecimal(d).setScale(DIGITS + nines - 1, RoundingMode.HALF_EVEN);
      return b.stripTrailingZeros().toPlainString();
    }
    BigDecimal b = new BigDecimal(d).round(new MathContext(DIGITS, RoundingMode.HALF_EVEN));
    return b.stripTrailingZeros().toPlainString();
  }

  /**
   * {@code t} as aligned text for a terminal: numbers rounded to {@value #DIGITS} significant
   * digits and right-aligned, text left-aligned; the first {@code maxRows} rows.
   */
  public static String text(Table t, int maxRows) {
    int rows = Math.min(maxRows, t.rowCount());
    int cols = t.columnCount();
    String[][] cells = new String[rows + 1][cols];
    boolean[] numeric = new boolean[cols];
    int[] width = new int[cols];
    for (int c = 0; c < cols; c++) {
      Column<?> col = t.column(c);
      cells[0][c] = col.name();
      numeric[c] = col instanceof tech.tablesaw.api.NumericColumn;
      for (int r = 0; r < rows; r++) {
        Object v = col.get(r);
        cells[r + 1][c] = v instanceof Number n ? num(n) : t.getString(r, c);
      }
      for (int r = 0; r <= rows; r++) {
        width[c] = Math.max(width[c], cells[r][c].length());
      }
    }
    StringBuilder b = new StringBuilder();
    for (int r = 0; r <= rows; r++) {
      for (int c = 0; c < cols; c++) {
        String s = cells[r][c];
        String pad = " ".repeat(width[c] - s.length());
        b.append(c == 0 ? "" : "  ").append(numeric[c] ? pad + s : s + (c == cols - 1 ? "" : pad));
      }
      b.append('\n');
    }
    if (rows < t.rowCount()) {
      b.append("... ").append(t.rowCount() - rows).append(" more rows\n");
    }
    return b.toString();
  }
}
