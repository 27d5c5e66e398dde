package dev.qdebug.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/** Figures fit a notebook column and read; numbers show 4 significant digits. */
class PlotlyJsonTest {
  @Test
  void longNodeNamesAreShortOnTheAxisAndWholeOnHover() {
    String[] names = new String[40];
    double[] y = new double[40];
    for (int i = 0; i < names.length; i++) {
      names[i] = "/net/features/features." + i + "/block/branch/fused/Conv";
      y[i] = 1 - i * 1e-4;
    }
    Plot p = Figures.categoryLines("t", "node", "cosine", names, Map.of(), Map.of("c", y));
    p.subtitle("int4 weights per channel, int8 activations");
    JsonNode f = PlotlyJson.tree(p);
    JsonNode x = f.at("/layout/xaxis");
    assertTrue(x.get("automargin").asBoolean());
    assertEquals("category", x.get("type").asText());
    assertEquals(40, x.get("ticktext").size());
    for (JsonNode t : x.get("ticktext")) {
      assertTrue(t.asText().length() <= PlotlyJson.MAX_LABEL, t.asText());
    }
    assertEquals(names[3], x.get("tickvals").get(3).asText(), "the full name stays the value");
    assertEquals("…tures.3/block/branch/fused/Conv", x.get("ticktext").get(3).asText());
    assertEquals("/net/features.22/fused/Conv", PlotlyJson.shorten("/net/features/features.22/fused/Conv"),
        "a segment repeated by the next one goes");
    assertEquals("/net/layer1/block.1.0/Conv", PlotlyJson.shorten("/net/layer1/block/block.1/block.1.0/Conv"));
    assertEquals("/short/name", PlotlyJson.shorten("/short/name"));
    assertTrue(f.at("/data/0/hovertemplate").asText().contains("%{x}"), "full name on hover");
    assertTrue(f.at("/layout/width").asInt() <= 900);
    assertTrue(f.at("/layout/title/text").asText().endsWith("<sup>int4 weights per channel, int8 activations</sup>"));
    assertEquals("t — int4 weights per channel, int8 activations", Html.figureTitle(p));
  }

  @Test
  void numericXStaysNumericAndWideFiguresAreNarrowed() {
    Map<String, double[]> s = new LinkedHashMap<>();
    s.put("a", new double[] {1, 2, 3});
    Plot p = Figures.lines("t", "x", "y", new double[] {0, 1, 2}, s);
    p.layout(1400, "width");
    JsonNode f = PlotlyJson.tree(p);
    assertFalse("category".equals(f.at("/layout/xaxis/type").asText()), f.at("/layout/xaxis").toString());
    assertEquals(900, f.at("/layout/width").asInt());
  }

  @Test
  void barsStartAtZero() {
    Plot p = Figures.bars("acc", "variant", "top-1", new String[] {"float", "int8"}, new double[] {0.89, 0.88}, "top-1");
    assertEquals("tozero", PlotlyJson.tree(p).at("/layout/yaxis/rangemode").asText());
  }

  @Test
  void fourSignificantDigits() {
    assertEquals("0.1235", Fmt.num(0.123456789));
    assertEquals("1235", Fmt.num(1234.56789));
    assertEquals("0.99963", Fmt.num(0.9996301), "after the nines of a cosine");
    assertEquals("0.9808", Fmt.num(0.980774));
    assertEquals("1.235e-05", Fmt.num(1.23456e-5));
    assertEquals("NaN", Fmt.num(Double.NaN));
    assertEquals("42", Fmt.num(42L));
    Table t = Table.create("t", StringColumn.create("node", "a", "bb"), DoubleColumn.create("v", 0.123456, 12.5));
    String text = Fmt.text(t, 10);
    assertEquals("node       v\na     0.1235\nbb      12.5\n", text);
    String html = Html.table(t);
    assertTrue(html.contains("<td class=\"num\">0.1235</td>") && html.contains("<td class=\"text\" style=\"text-align:left\">bb</td>"), html);
  }

  @Test
  void longCellsKeepTheStartOfProseAndTheEndOfNames() {
    String name = "/net/features/features.3/block/branch/fused/Conv/with/a/very/long/path/name";
    String prose = "leave in float +0.019235; int16 weights +0.019228; per-channel weights +0.012998; kl range -0.007579";
    String html = Html.table(Table.create("t", StringColumn.create("c", name, prose)));
    assertTrue(html.contains(">…" + name.substring(name.length() - (Html.MAX_CELL - 1)) + "<"), html);
    assertTrue(html.contains(">" + prose.substring(0, Html.MAX_CELL - 1) + "…<"), "the best fixes stay in view: " + html);
    assertTrue(html.contains("title=\"" + prose + "\""), "the whole text on hover");
  }
}
