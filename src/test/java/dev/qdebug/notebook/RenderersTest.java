package dev.qdebug.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.debug.Report;
import dev.qdebug.viz.Figures;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.dflib.jjava.jupyter.Extension;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.display.mime.MIMEType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;

/** What tables, figures and results look like in a notebook (jjava's renderer, no Jupyter). */
class RenderersTest {
  static final MIMEType PLOTLY = MIMEType.parse(Renderers.PLOTLY_MIME);
  static final String PLOTLY_HEADER = "plotly.js (cartesian - minified) v2.35.3";

  Renderer renderer;

  @BeforeEach
  void fresh() {
    renderer = new Renderer();
    Renderers.register(renderer);
    PlotlyScript.reset();
  }

  static Figure figure(String title, String series) {
    Map<String, double[]> s = new LinkedHashMap<>();
    s.put(series, new double[] {1, Double.NaN, 3});
    return Figures.lines(title, "x <axis>", "y", new double[] {0, 1, 2}, s);
  }

  @Test
  void aTableIsAnHtmlTableAndText() {
    Table t = Table.create("nodes", StringColumn.create("node", "a<b", "c"), DoubleColumn.create("mse", 0.5, 0.25));
    DisplayData d = renderer.render(t);
    String html = (String) d.getData(MIMEType.TEXT_HTML);
    assertTrue(html.startsWith("<table"), html);
    assertTrue(html.contains("nodes (2 rows × 2 columns)</caption>"), html);
    assertTrue(html.contains("<th style=\"text-align:left\">node</th><th style=\"text-align:left\">mse</th>"), html);
    assertTrue(html.contains("<td class=\"text\" style=\"text-align:left\">a&lt;b</td>"), "escaped, left-aligned: " + html);
    assertTrue(html.contains("<td class=\"num\">0.25</td>"), "numbers right-aligned: " + html);
    assertTrue(((String) d.getData(MIMEType.TEXT_PLAIN)).contains("mse"));
    assertEquals("nodes", t.name(), "the table itself is not renamed");
  }

  @Test
  void longTablesShowTheFirstRowsAndSaySo() {
    double[] v = new double[Renderers.MAX_ROWS + 5];
    String html = Renderers.tableHtml(Table.create("big", DoubleColumn.create("v", v)));
    assertTrue(html.contains("(105 rows × 1 columns, first 100 shown)"), html);
    assertEquals(Renderers.MAX_ROWS, html.split("<td class=\"num\">", -1).length - 1);
  }

  @Test
  void aFigureIsHtmlAndAPlotlyJsonObjectWithObjectTitles() {
    DisplayData d = renderer.render(figure("it's <loss>", "a & b"));
    Object json = d.getData(PLOTLY);
    assertInstanceOf(Map.class, json, "a JSON object, not a string");
    Map<?, ?> fig = (Map<?, ?>) json;
    Map<?, ?> layout = (Map<?, ?>) fig.get("layout");
    assertEquals("it's <loss>", ((Map<?, ?>) layout.get("title")).get("text"), "escapes undone, title as object");
    assertEquals("x <axis>", ((Map<?, ?>) ((Map<?, ?>) layout.get("xaxis")).get("title")).get("text"));
    assertEquals(Boolean.TRUE, ((Map<?, ?>) layout.get("xaxis")).get("automargin"), "long labels fit");
    assertTrue(((Number) layout.get("width")).intValue() <= 900, "a notebook column wide");
    Map<?, ?> trace = (Map<?, ?>) ((List<?>) fig.get("data")).get(0);
    assertEquals("a & b", trace.get("name"));
    assertEquals("scatter", trace.get("type"));
    assertEquals(3, ((List<?>) trace.get("y")).size());
    assertEquals("Figure 'it's <loss>' (1 trace)", d.getData(MIMEType.TEXT_PLAIN));
    String html = (String) d.getData(MIMEType.TEXT_HTML);
    assertTrue(html.contains("window.Plotly.newPlot(div, figure.data, figure.layout"), html);
    assertTrue(html.contains("style=\"width:900px;height:520px\""), "keeps the figure's size");
    assertTrue(html.contains("div.querySelector('img.qdebug-static')") && html.contains("still.remove()"),
        "a published picture gives way to the live figure: one figure, not two");
    assertTrue(html.contains("run reloadPlotly()") && !html.contains("Notebook.reloadPlotly()"),
        "the hint names what the kernel imports");
  }

  @Test
  void plotlyJsIsEmbeddedOnceASessionAndHiddenFromRequireJs() {
    String first = (String) renderer.render(figure("one", "a")).getData(MIMEType.TEXT_HTML);
    String second = (String) renderer.render(figure("two", "b")).getData(MIMEType.TEXT_HTML);
    assertEquals(1, count(first, PLOTLY_HEADER), "the first figure carries plotly.js");
    assertEquals(0, count(second, PLOTLY_HEADER), "later figures use window.Plotly");
    assertTrue(first.indexOf("window.define = undefined;") < first.indexOf(PLOTLY_HEADER));
    assertTrue(first.indexOf(PLOTLY_HEADER) < first.indexOf("window.define = qdebugDefine;"));
    assertEquals(2, count(first, "<script"), "plotly.js's, then the figure's");
    Notebook.reloadPlotly();
    String again = (String) renderer.render(figure("three", "c")).getData(MIMEType.TEXT_HTML);
    assertEquals(1, count(again, PLOTLY_HEADER), "after reloadPlotly() it comes again");
  }

  @Test
  void aTextOnlyRenderingDoesNotUseUpTheEmbedding() {
    DisplayData text = renderer.renderAs(figure("t", "a"), "text/plain");
    assertNull(text.getData(MIMEType.TEXT_HTML));
    String html = (String) renderer.render(figure("u", "b")).getData(MIMEType.TEXT_HTML);
    assertEquals(1, count(html, PLOTLY_HEADER));
  }

  @Test
  void scriptEndingTextInDataCannotCloseTheScript() {
    Figure f = Figures.bars("t", "x", "y", new String[] {"</script><b>x"}, new double[] {1}, "s");
    String html = (String) renderer.render(f).getData(MIMEType.TEXT_HTML);
    assertFalse(html.substring(html.indexOf("var figure")).contains("</script><b>"), html);
    assertTrue(html.contains("<\\/script><b>x"));
  }

  record Demo(Table table, Figure figure, String note) implements Report {
    @Override
    public void save(Path dir) {}
  }

  @Test
  void anAnalysisResultShowsItsTablesAndFiguresInOrder() {
    Demo r = new Demo(Table.create("ranking", DoubleColumn.create("v", 1)), figure("f", "a"), "n");
    DisplayData d = renderer.render(r);
    String html = (String) d.getData(MIMEType.TEXT_HTML);
    assertTrue(html.indexOf("<h5>table</h5>") < html.indexOf("<h5>figure</h5>"), html);
    assertTrue(html.contains("ranking (1 rows × 1 columns)</caption>"));
    assertEquals(1, count(html, PLOTLY_HEADER));
    assertEquals(
        "RenderersTest.Demo\ntable: 1 rows × 1 columns\nfigure: Figure 'f' (1 trace)",
        d.getData(MIMEType.TEXT_PLAIN));
  }

  @Test
  void htmlFragmentsAreHtml() {
    DisplayData d = renderer.render(Notebook.html("<b>bold</b> text"));
    assertEquals("<b>bold</b> text", d.getData(MIMEType.TEXT_HTML));
    assertEquals("bold text", d.getData(MIMEType.TEXT_PLAIN));
  }

  @Test
  void registeringTwiceRendersOnce() {
    Renderers.register(renderer);
    String html = (String) renderer.render(figure("one", "a")).getData(MIMEType.TEXT_HTML);
    assertEquals(1, count(html, PLOTLY_HEADER), "a second registration would draw without plotly.js");
  }

  @Test
  void aStockJjavaKernelFindsTheExtensionByServiceLoader() {
    var found =
        ServiceLoader.load(Extension.class, getClass().getClassLoader()).stream()
            .map(p -> p.type().getName())
            .toList();
    assertTrue(found.contains(QdebugExtension.class.getName()), found.toString());
  }

  static int count(String s, String part) {
    int n = 0;
    for (int i = s.indexOf(part); i >= 0; i = s.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }
}
