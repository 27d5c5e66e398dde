package dev.qdebug.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class NotebookProgressTest {
  /** Records what the bar shows. */
  static final class Recorder implements Frontend {
    final List<String> calls = new ArrayList<>();
    long cell = -1;
    int displays;

    @Override
    public String display(Object value) {
      calls.add("display " + ((HtmlFragment) value).text());
      return "id-" + ++displays;
    }

    @Override
    public long cell() {
      return cell;
    }

    @Override
    public void updateDisplay(String id, Object value) {
      calls.add("update " + id + " " + ((HtmlFragment) value).text());
    }
  }

  @Test
  void oneDisplayUpdatedInPlaceThrottledAndAlwaysShowingTheEnd() {
    Recorder r = new Recorder();
    NotebookProgress p = new NotebookProgress(r);
    for (int i = 1; i <= 1000; i++) {
      p.update("calibrate", i, 1000);
    }
    p.update("get-sensitivity-of-nodes", 1, 2);
    p.update("get-sensitivity-of-nodes", 2, 2);
    assertTrue(r.calls.get(0).startsWith("display calibrate: 1/1000 (0%)"), r.calls.get(0));
    assertTrue(r.calls.size() < 20, "throttled: " + r.calls.size());
    assertTrue(r.calls.stream().skip(1).allMatch(c -> c.startsWith("update id-1 ")), r.calls.toString());
    assertTrue(r.calls.contains(r.calls.stream().filter(c -> c.contains("calibrate: 1000/1000 done in")).findFirst().orElse("missing")));
    assertTrue(r.calls.get(r.calls.size() - 2).startsWith("update id-1 get-sensitivity-of-nodes: 1/2 (50%)"), "a new task draws at once");
    assertTrue(r.calls.get(r.calls.size() - 1).startsWith("update id-1 get-sensitivity-of-nodes: 2/2 done in"));
  }

  @Test
  void aBarUsedAgainInALaterCellShowsThereNotInTheFirstCell() {
    Recorder r = new Recorder();
    r.cell = 3;
    NotebookProgress p = new NotebookProgress(r);
    p.update("calibrate", 1, 1);
    p.update("accuracy", 1, 1);
    r.cell = 4;
    p.update("partial-quantization", 1, 2);
    p.update("partial-quantization", 2, 2);
    assertEquals(
        List.of("display calibrate: 1/1", "update id-1 accuracy: 1/1", "display partial-quantization: 1/2",
            "update id-2 partial-quantization: 2/2"),
        r.calls.stream().map(c -> c.replaceAll(" (done in|\\(\\d+%\\)).*", "")).toList());
  }

  @Test
  void theBarIsAnHtmlProgressElement() {
    HtmlFragment h = NotebookProgress.bar("a<b", 3, 4, 1.25);
    assertTrue(h.html().contains("<progress value=\"3\" max=\"4\""), h.html());
    assertTrue(h.html().contains("a&lt;b: 3/4 (75%) 1.3 s"), h.html());
    assertEquals("a<b: 3/4 (75%) 1.3 s", h.text());
    assertTrue(NotebookProgress.bar("t", 0, 0, 0).html().contains("max=\"1\""), "an empty task is done");
  }
}
