package dev.qdebug.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class TerminalProgressTest {

  @Test
  void aLogGetsAboutOneLinePerTenthNotOnePerUpdate() {
    StringWriter out = new StringWriter();
    TerminalProgress p = new TerminalProgress(new PrintWriter(out), false);
    for (int i = 0; i <= 10_000; i += 16) {
      p.update("evaluate", Math.min(i, 10_000), 10_000);
    }
    p.update("evaluate", 10_000, 10_000);
    String log = out.toString();
    assertFalse(log.contains("\r"), "no in-place redraws in a log");
    String[] lines = log.split("\n");
    assertTrue(lines.length >= 10 && lines.length <= 13, lines.length + " lines:\n" + log);
    assertTrue(lines[lines.length - 1].contains("10000/10000"), log);
    // a second task starts its own line at once
    p.update("calibrate", 0, 5);
    assertTrue(out.toString().substring(log.length()).startsWith("calibrate"), out.toString());
  }

  @Test
  void aTerminalRedrawsInPlaceAndEndsTheLineWhenDone() {
    StringWriter out = new StringWriter();
    TerminalProgress p = new TerminalProgress(new PrintWriter(out), true);
    p.update("sweep", 1, 3);
    assertTrue(TerminalProgress.midLine);
    p.update("sweep", 3, 3);
    assertFalse(TerminalProgress.midLine);
    String s = out.toString();
    assertTrue(s.startsWith("\rsweep"), s);
    assertEquals(1, s.chars().filter(c -> c == '\n').count(), s);
  }
}
