package dev.qdebug.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The kernel as Jupyter runs it: installs {@code target/qdebug.jar} as a kernel into a private
 * Jupyter folder, executes the notebooks in {@code src/test/resources/notebooks} headless with
 * {@code jupyter nbconvert --execute}, checks their outputs, exports HTML and, where Chromium is
 * installed, screenshots the page to check the figures draw offline. Needs {@code jupyter} (Debian:
 * {@code jupyter-nbconvert jupyter-client jupyter-core python3-nbclient}); fails without it on CI
 * ({@code CI=true}), skips with a note elsewhere. Outputs stay in {@code target/notebook-it}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NotebookIT {
  static final String KERNEL = "qdebug-it";
  static final String PLOTLY_HEADER = "plotly.js (cartesian - minified) v2.35.3";
  static final Path ROOT = Path.of("").toAbsolutePath();
  static final Path OUT = ROOT.resolve("target/notebook-it");
  static final JsonMapper JSON = JsonMapper.builder().build();

  static final String NO_JUPYTER =
      "jupyter is not installed (Debian: apt-get install --no-install-recommends jupyter-nbconvert"
          + " jupyter-client jupyter-core python3-nbclient)";

  static Map<String, String> env;
  static boolean jupyter;

  @BeforeAll
  static void installKernel() throws Exception {
    jupyter = which("jupyter").isPresent();
    if (!jupyter) {
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        fail(NO_JUPYTER + ": the notebook test cannot run on CI without it");
      }
      System.out.println("NotebookIT skipped: " + NO_JUPYTER);
      return; // each test skips
    }
    Path jar = Path.of(System.getProperty("qdebug.jar", "target/qdebug.jar")).toAbsolutePath();
    assertTrue(Files.isRegularFile(jar), "build the jar first (mvn verify does): " + jar);
    deleteTree(OUT);
    Files.createDirectories(OUT);
    Path prefix = OUT.resolve("prefix");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Result install =
        run(Map.of(), 120, java, "-jar", jar.toString(), "kernel", "install", "--prefix", prefix.toString(), "--name", KERNEL);
    assertEquals(0, install.status, install.output);
    assertTrue(Files.isRegularFile(prefix.resolve("share/jupyter/kernels/" + KERNEL + "/kernel.json")), install.output);
    env =
        Map.of(
            "JUPYTER_PATH", prefix.resolve("share/jupyter").toString(),
            "JUPYTER_CONFIG_DIR", OUT.resolve("config").toString(),
            "JUPYTER_DATA_DIR", OUT.resolve("data").toString(),
            "JUPYTER_RUNTIME_DIR", OUT.resolve("runtime").toString(),
            "QDEBUG_HOME", ROOT.toString());
    Result list = run(env, 120, "jupyter", "kernelspec", "list");
    assertTrue(list.output.contains(KERNEL), list.output);
  }

  /** Executes {@code name} with {@code extra} nbconvert options; returns the executed notebook. */
  static JsonNode execute(String name, String... extra) throws Exception {
    Path src = ROOT.resolve("src/test/resources/notebooks").resolve(name);
    Path work = OUT.resolve("work");
    Files.createDirectories(work);
    Files.copy(src, work.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "jupyter", "nbconvert", "--to", "notebook", "--execute",
                "--ExecutePreprocessor.kernel_name=" + KERNEL,
                "--ExecutePreprocessor.startup_timeout=180",
                "--output-dir", OUT.toString()));
    cmd.addAll(Arrays.asList(extra));
    cmd.add(work.resolve(name).toString());
    Result r = run(env, 900, cmd.toArray(String[]::new));
    assertEquals(0, r.status, "nbconvert --execute " + name + ":\n" + r.output);
    return JSON.readTree(OUT.resolve(name).toFile());
  }

  @Test
  @Order(1)
  void smokeNotebookRendersTablesFiguresStreamsAndProgress() throws Exception {
    Assumptions.assumeTrue(jupyter, NO_JUPYTER);
    JsonNode nb = execute("smoke.ipynb", "--ExecutePreprocessor.timeout=600");
    assertEquals("java", nb.at("/metadata/language_info/name").asText());
    List<JsonNode> outputs = outputs(nb);
    assertTrue(outputs.stream().noneMatch(o -> o.get("output_type").asText().equals("error")), "no cell errored");
    for (JsonNode c : nb.get("cells")) {
      if (c.get("cell_type").asText().equals("code")) {
        assertTrue(c.get("execution_count").isInt(), "every cell ran: " + c.get("id"));
      }
    }

    // stdout and stderr stream
    JsonNode first = cell(nb, "co01");
    assertEquals("stdout", first.at("/outputs/0/name").asText());
    assertTrue(text(first.at("/outputs/0/text")).startsWith("stdout: Java "));
    assertEquals("stderr", first.at("/outputs/1/name").asText());

    // the sensitivity ranking: a Tablesaw table as text/html, and the progress bar, finished
    JsonNode ranking = cell(nb, "co04");
    List<JsonNode> progress = byType(ranking, "display_data");
    assertEquals(1, progress.size(), "one progress display, updated in place");
    assertTrue(text(progress.get(0).at("/data/text~1plain")).matches("get-sensitivity-of-nodes: (\\d+)/\\1 done in .*"),
        text(progress.get(0).at("/data/text~1plain")));
    assertTrue(text(progress.get(0).at("/data/text~1html")).contains("<progress"));
    String table = text(byType(ranking, "execute_result").get(0).at("/data/text~1html"));
    assertTrue(table.startsWith("<table") && table.contains("<th style=\"text-align:left\">node</th><th style=\"text-align:left\">cosine-similarity</th>"), table);
    assertTrue(table.contains("left\">node sensitivity ("), table);

    // the figure: text/html and Plotly's JSON object
    JsonNode figure = byType(cell(nb, "co05"), "execute_result").get(0).get("data");
    JsonNode plotly = figure.get("application/vnd.plotly.v1+json");
    assertTrue(plotly.isObject(), "a JSON object, not a string: " + plotly.getNodeType());
    assertTrue(plotly.get("data").isArray() && plotly.get("data").size() > 0);
    assertFalse(plotly.at("/layout/title/text").asText().isBlank(), "title as an object");
    assertTrue(text(figure.get("text/html")).contains("window.Plotly.newPlot("));

    // display() of a table and a figure, then stdout, then the value: in that order
    JsonNode demo = cell(nb, "co06");
    List<String> kinds = new ArrayList<>();
    demo.get("outputs").forEach(o -> kinds.add(o.get("output_type").asText()));
    assertEquals(List.of("display_data", "display_data", "stream", "execute_result"), kinds);
    assertTrue(text(demo.at("/outputs/0/data/text~1html")).startsWith("<table"));
    assertTrue(demo.at("/outputs/1/data/application~1vnd.plotly.v1+json").isObject());
    assertEquals("printed after two displays\n", text(demo.at("/outputs/2/text")));
    assertEquals("4", text(demo.at("/outputs/3/data/text~1plain")));

    // plotly.js exactly once, in the session's first figure
    int total = 0;
    for (JsonNode o : outputs) {
      total += count(text(o.at("/data/text~1html")), PLOTLY_HEADER);
    }
    assertEquals(1, total, "plotly.js embedded once");
    assertEquals(1, count(text(figure.get("text/html")), PLOTLY_HEADER), "by the first figure");
  }

  @Test
  @Order(2)
  void errorsShowAsJupyterErrorsAndTheKernelLivesOn() throws Exception {
    Assumptions.assumeTrue(jupyter, NO_JUPYTER);
    JsonNode nb =
        execute(
            "errors.ipynb",
            "--allow-errors",
            "--ExecutePreprocessor.timeout=20",
            "--ExecutePreprocessor.interrupt_on_timeout=True");
    JsonNode thrown = cell(nb, "co02");
    assertEquals("before the exception\n", text(thrown.at("/outputs/0/text")));
    JsonNode error = byType(thrown, "error").get(0);
    assertEquals("IllegalStateException", error.get("ename").asText());
    assertEquals("boom from a cell", error.get("evalue").asText());
    assertTrue(lines(error.get("traceback")).contains("java.lang.IllegalStateException: boom from a cell"));
    assertTrue(lines(error.get("traceback")).contains("do_it$"), "the cell's frame");
    assertFalse(lines(error.get("traceback")).contains("CellExecutionControl"), "not the kernel's frames");

    assertEquals("still alive, x = 42\n", text(cell(nb, "co03").at("/outputs/0/text")));

    JsonNode compile = byType(cell(nb, "co04"), "error").get(0);
    assertEquals("CompilationException", compile.get("ename").asText());
    assertTrue(lines(compile.get("traceback")).contains("undefinedName + 1"));

    JsonNode interrupted = cell(nb, "co05");
    assertEquals("CellInterruptedException", byType(interrupted, "error").get(0).get("ename").asText());
    assertEquals("alive after the interrupt, x = 42\n", text(cell(nb, "co06").at("/outputs/0/text")));
  }

  @Test
  @Order(3)
  void htmlExportDrawsTheFiguresOffline() throws Exception {
    Assumptions.assumeTrue(jupyter, NO_JUPYTER);
    Path executed = OUT.resolve("smoke.ipynb");
    Assumptions.assumeTrue(Files.exists(executed), "the smoke notebook ran");
    Result r = run(env, 300, "jupyter", "nbconvert", "--to", "html", executed.toString(), "--output-dir", OUT.toString());
    assertEquals(0, r.status, r.output);
    Path html = OUT.resolve("smoke.html");
    String page = Files.readString(html, StandardCharsets.UTF_8);
    assertEquals(1, count(page, PLOTLY_HEADER), "plotly.js once in the page");
    assertFalse(
        java.util.regex.Pattern.compile("<(script|link)[^>]*(src|href)=[\"']?(https?:)?//").matcher(page).find(),
        "no script or style sheet from the network");

    Optional<String> chromium = which("chromium").or(() -> which("chromium-browser"));
    if (chromium.isEmpty()) {
      System.out.println(
          "NotebookIT: Chromium is not installed, so the HTML export was not screenshotted"
              + " (apt-get install --no-install-recommends chromium to check that figures draw)");
      return;
    }
    long blue = plotlyBluePixels(chromium.get(), html, OUT.resolve("smoke.png"));
    assertTrue(blue > 2000, "the figures drew offline (plotly-blue pixels: " + blue + "), see smoke.png");

    // the same page with an AMD loader (require.js, as the classic Notebook has): plotly.js 2
    // would register as a module and leave window.Plotly unset, unless qdebug hides define
    Path amd = OUT.resolve("smoke-amd.html");
    Files.writeString(
        amd,
        page.replaceFirst(
            "<head>",
            "<head><script>window.define = function () {}; window.define.amd = {};</script>"),
        StandardCharsets.UTF_8);
    long amdBlue = plotlyBluePixels(chromium.get(), amd, OUT.resolve("smoke-amd.png"));
    assertTrue(amdBlue > 2000, "the figures drew with an AMD define on the page (" + amdBlue + ")");
  }

  /** Screenshots {@code html} with headless Chromium; counts pixels of plotly's first colour. */
  static long plotlyBluePixels(String chromium, Path html, Path png) throws Exception {
    Result shot =
        run(
            Map.of(),
            180,
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + OUT.resolve("chromium-profile"),
            "--screenshot=" + png, "--window-size=1280,5200", "--virtual-time-budget=10000",
            html.toUri().toString());
    if (!Files.isRegularFile(png)) {
      // Chromium that cannot start here is the machine's problem, not the notebook's
      System.out.println("NotebookIT: Chromium made no screenshot, not checked:\n" + shot.output);
      Assumptions.abort("Chromium made no screenshot");
    }
    BufferedImage img = ImageIO.read(png.toFile());
    // #1f77b4 fills the bars and draws the lines only when plotly.js ran
    long blue = 0;
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        int rgb = img.getRGB(x, y) & 0xffffff;
        if (Math.abs(((rgb >> 16) & 0xff) - 0x1f) < 12
            && Math.abs(((rgb >> 8) & 0xff) - 0x77) < 12
            && Math.abs((rgb & 0xff) - 0xb4) < 12) {
          blue++;
        }
      }
    }
    System.out.println("NotebookIT: " + png.getFileName() + ": " + blue + " plotly-blue pixels");
    return blue;
  }

  /**
   * qdebug's jar in a stock jjava kernel ({@code %jars}), where {@code QDEBUG_JJAVA_KERNELSPEC}
   * names an unpacked jjava kernelspec folder (jjava's release {@code jjava-*-kernelspec.zip}; it
   * is not on Maven Central, so this part is opt-in).
   */
  @Test
  @Order(4)
  void aStockJjavaKernelRendersWithTheJar() throws Exception {
    Assumptions.assumeTrue(jupyter, NO_JUPYTER);
    String spec = System.getenv("QDEBUG_JJAVA_KERNELSPEC");
    if (spec == null || spec.isBlank()) {
      System.out.println(
          "NotebookIT: stock jjava kernel not checked (set QDEBUG_JJAVA_KERNELSPEC to an unpacked"
              + " jjava kernelspec folder)");
      Assumptions.abort("QDEBUG_JJAVA_KERNELSPEC is not set");
    }
    Path kernel = OUT.resolve("prefix/share/jupyter/kernels/jjava-it");
    Files.createDirectories(kernel);
    try (Stream<Path> files = Files.list(Path.of(spec))) {
      for (Path f : files.toList()) {
        Files.copy(f, kernel.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    ObjectNode kernelJson = (ObjectNode) JSON.readTree(kernel.resolve("kernel.json").toFile());
    kernelJson.putObject("env").put("OMP_WAIT_POLICY", "PASSIVE");
    JSON.writeValue(kernel.resolve("kernel.json").toFile(), kernelJson);

    Path jar = Path.of(System.getProperty("qdebug.jar", "target/qdebug.jar")).toAbsolutePath();
    Path work = OUT.resolve("work");
    Files.createDirectories(work);
    String nbText =
        Files.readString(ROOT.resolve("src/test/resources/notebooks/stock-jjava.ipynb"))
            .replace("QDEBUG_JAR", jar.toString());
    Files.writeString(work.resolve("stock-jjava.ipynb"), nbText);
    Result r =
        run(env, 600, "jupyter", "nbconvert", "--to", "notebook", "--execute",
            "--ExecutePreprocessor.kernel_name=jjava-it", "--ExecutePreprocessor.timeout=300",
            "--output-dir", OUT.toString(), work.resolve("stock-jjava.ipynb").toString());
    assertEquals(0, r.status, r.output);
    JsonNode nb = JSON.readTree(OUT.resolve("stock-jjava.ipynb").toFile());
    assertTrue(outputs(nb).stream().noneMatch(o -> o.get("output_type").asText().equals("error")));
    assertTrue(text(cell(nb, "co02").at("/outputs/0/data/text~1html")).contains("stock (2 rows × 1 columns)"));
    JsonNode fig = cell(nb, "co03").at("/outputs/0/data");
    assertTrue(fig.get("application/vnd.plotly.v1+json").isObject());
    assertEquals(1, count(text(fig.get("text/html")), PLOTLY_HEADER));
    assertTrue(text(cell(nb, "co04").at("/outputs/0/data/text~1plain")).startsWith("stock task: 2/2 done"));
    assertTrue(text(cell(nb, "co05").at("/outputs/0/data/text~1html")).contains("shown (1 rows × 1 columns)"));
  }

  /**
   * What a saved notebook cannot show, seen on the wire with jupyter_client: a partial line arrives
   * while the cell still runs, the progress bar is one display updated in place, and an interrupt
   * message stops a sleeping cell.
   */
  @Test
  @Order(5)
  void theWireShowsStreamingInPlaceUpdatesAndInterrupts() throws Exception {
    Assumptions.assumeTrue(jupyter, NO_JUPYTER);
    // the Python that runs jupyter (Debian's, with jupyter_client), from its #! line
    String shebang = Files.readAllLines(Path.of(which("jupyter").orElseThrow())).get(0);
    String python = shebang.substring(2).strip().split("\\s+")[0];
    Result r =
        run(env, 600, python, ROOT.resolve("src/test/resources/notebooks/protocol_check.py").toString(), KERNEL);
    assertEquals(0, r.status, r.output);
    String line =
        r.output.lines().filter(l -> l.startsWith("PROTOCOL ")).findFirst().orElseThrow(() -> new AssertionError(r.output));
    JsonNode seen = JSON.readTree(line.substring("PROTOCOL ".length()));

    JsonNode streams = seen.get("streams");
    assertEquals("partial", streams.get(0).get("text").asText(), "a print without newline is sent");
    assertEquals(" line\n", streams.get(1).get("text").asText());
    assertTrue(
        streams.get(1).get("t").asDouble() - streams.get(0).get("t").asDouble() > 1.0,
        "the partial line arrived while the cell slept: " + streams);
    assertEquals("stderr", streams.get(2).get("name").asText());

    JsonNode displays = seen.get("displays");
    assertEquals("display_data", displays.get(0).get("type").asText());
    String id = displays.get(0).get("id").asText();
    assertFalse(id.isBlank());
    for (int i = 1; i < displays.size(); i++) {
      assertEquals("update_display_data", displays.get(i).get("type").asText(), displays.toString());
      assertEquals(id, displays.get(i).get("id").asText(), "the same display");
    }
    assertTrue(displays.get(displays.size() - 1).get("text").asText().startsWith("steps: 3/3 done"));

    JsonNode interrupt = seen.get("interrupt");
    assertEquals("error", interrupt.get("status").asText());
    assertEquals("CellInterruptedException", interrupt.get("ename").asText());
    assertTrue(interrupt.get("seconds").asDouble() < 10, "stopped promptly: " + interrupt);
    assertEquals("42", seen.get("after").get(0).asText(), "the kernel lives on");
  }

  /**
   * The case-study notebooks this run executes: {@code -Dqdebug.notebooks=all} for every one, or a
   * comma-separated list of names; by default the RepVGG one (about two minutes). The three share
   * one template (scripts/make_notebooks.py), so the cells a change can break run in every build;
   * MobileViT and MnasNet take 15-20 minutes each with the fix-it section and run on demand.
   */
  static List<Path> executed(List<Path> all) {
    String want = System.getProperty("qdebug.notebooks", "repvgg_b2_case_study");
    if (want.equals("all")) {
      return all;
    }
    List<String> names = List.of(want.split(","));
    List<Path> chosen =
        all.stream().filter(p -> names.contains(p.getFileName().toString().replace(".ipynb", ""))).toList();
    assertEquals(names.size(), chosen.size(), "-Dqdebug.notebooks=" + want + " names " + all);
    return chosen;
  }

  /**
   * What every committed notebook must hold without running it: each code cell ran, no error, the
   * reloaded partial and fixed models printed the accuracy the search and the diagnosis reported,
   * and the summary has its five rows (float, int8, the harder setting, top k in float, fixed),
   * the last equal to the reloaded fixed model's top-1.
   */
  static void committedOutputsAgree(Path file) throws IOException {
    String name = file.getFileName().toString();
    JsonNode nb = JSON.readTree(file.toFile());
    assertTrue(outputs(nb).stream().noneMatch(o -> o.get("output_type").asText().equals("error")), name + ": no error committed");
    for (JsonNode c : nb.get("cells")) {
      if (c.get("cell_type").asText().equals("code")) {
        assertTrue(c.get("execution_count").isInt(), name + ": committed with every cell run: " + c.get("id"));
      }
    }
    java.util.regex.Matcher reload =
        java.util.regex.Pattern.compile("top-1 ([0-9.]+)% \\(the search said ([0-9.]+)%\\)")
            .matcher(streamText(cell(nb, "reload")));
    assertTrue(reload.find(), name + ": " + streamText(cell(nb, "reload")));
    assertEquals(reload.group(2), reload.group(1), name + ": the committed partial model's accuracy");
    java.util.regex.Matcher fixed =
        java.util.regex.Pattern.compile("top-1 ([0-9.]+)% \\(diagnose said ([0-9.]+)%\\)")
            .matcher(streamText(cell(nb, "fixreload")));
    assertTrue(fixed.find(), name + ": " + streamText(cell(nb, "fixreload")));
    assertEquals(fixed.group(2), fixed.group(1), name + ": the committed fixed model's accuracy");
    double[] rows = summaryTop1(cell(nb, "summary"));
    assertEquals(5, rows.length, name + ": committed summary rows");
    assertEquals(Double.parseDouble(fixed.group(1)) / 100, rows[4], 1e-4, name + ": the summary's fixed row");
  }

  /** The committed case-study notebooks, in notebooks/. */
  static List<Path> caseStudies() throws IOException {
    try (Stream<Path> s = Files.list(ROOT.resolve("notebooks"))) {
      return s.filter(p -> p.toString().endsWith(".ipynb")).sorted().toList();
    }
  }

  /**
   * Every case-study notebook executes clean from its committed form: every cell runs, none
   * errors, tables and figures are produced (plotly.js once), the progress bars stay in their own
   * cells, the written partial model reproduces the searched accuracy, and the committed outputs
   * hold the numbers this run computes (they are real and current).
   */
  @Test
  @Order(6)
  void caseStudyNotebooksExecuteCleanAndMatchTheirCommittedOutputs() throws Exception {
    Assumptions.assumeTrue(jupyter, NO_JUPYTER);
    List<Path> all = caseStudies();
    assertEquals(3, all.size(), "one notebook per case-study model: " + all);
    for (Path committedFile : all) {
      committedOutputsAgree(committedFile);
    }
    List<Path> notebooks = executed(all);
    for (Path committedFile : notebooks) {
      String name = committedFile.getFileName().toString();
      JsonNode committed = JSON.readTree(committedFile.toFile());
      Path work = OUT.resolve("work");
      Files.createDirectories(work);
      Files.copy(committedFile, work.resolve(name), StandardCopyOption.REPLACE_EXISTING);
      Result r =
          run(env, 3600, "jupyter", "nbconvert", "--to", "notebook", "--execute",
              "--ExecutePreprocessor.kernel_name=" + KERNEL, "--ExecutePreprocessor.startup_timeout=180",
              "--ExecutePreprocessor.timeout=1800", "--output-dir", OUT.toString(), work.resolve(name).toString());
      assertEquals(0, r.status, "nbconvert --execute " + name + ":\n" + r.output);
      JsonNode nb = JSON.readTree(OUT.resolve(name).toFile());
      List<JsonNode> outputs = outputs(nb);
      assertTrue(outputs.stream().noneMatch(o -> o.get("output_type").asText().equals("error")), name + ": no cell errored");
      int tables = 0;
      int figures = 0;
      int plotly = 0;
      for (JsonNode o : outputs) {
        String html = text(o.at("/data/text~1html"));
        tables += html.startsWith("<table") ? 1 : 0;
        figures += o.at("/data/application~1vnd.plotly.v1+json").isObject() ? 1 : 0;
        plotly += count(html, PLOTLY_HEADER);
      }
      assertTrue(tables >= 9, name + ": tables " + tables);
      assertTrue(figures >= 9, name + ": figures " + figures);
      assertEquals(1, plotly, name + ": plotly.js embedded once");
      for (JsonNode c : nb.get("cells")) {
        if (c.get("cell_type").asText().equals("code")) {
          assertTrue(c.get("execution_count").isInt(), name + ": every cell ran: " + c.get("id"));
        }
      }
      assertEquals(2, byType(cell(nb, "hard"), "display_data").size(), name + ": calibrate and accuracy bars");
      assertTrue(text(byType(cell(nb, "auto"), "display_data").get(0).at("/data/text~1plain")).startsWith("partial-quantization:"),
          name + ": the search's bar is in its own cell");
      for (JsonNode o : byType(cell(nb, "hard"), "display_data")) {
        String bar = text(o.at("/data/text~1plain"));
        assertTrue(bar.startsWith("calibrate:") || bar.startsWith("accuracy:"), name + ": a later cell's bar: " + bar);
      }
      assertTrue(streamText(cell(nb, "int8acc")).contains("int8 keeps"), name);
      String auto = streamText(cell(nb, "auto"));
      assertTrue(auto.startsWith("target reached with k = "), name + ": " + auto);
      java.util.regex.Matcher reload =
          java.util.regex.Pattern.compile("top-1 ([0-9.]+)% \\(the search said ([0-9.]+)%\\)")
              .matcher(streamText(cell(nb, "reload")));
      assertTrue(reload.find(), name + ": " + streamText(cell(nb, "reload")));
      assertEquals(reload.group(2), reload.group(1), name + ": the written model gives the searched accuracy");
      // the fix-it section: the diagnosed model is written, reloaded and evaluated
      String diagnosed = streamText(cell(nb, "diagnose"));
      assertTrue(diagnosed.matches("(?s)target (NOT )?reached: \\d+ nodes left in float and \\d+ in int16.*"),
          name + ": " + diagnosed);
      java.util.regex.Matcher fixed =
          java.util.regex.Pattern.compile("top-1 ([0-9.]+)% \\(diagnose said ([0-9.]+)%\\)")
              .matcher(streamText(cell(nb, "fixreload")));
      assertTrue(fixed.find(), name + ": " + streamText(cell(nb, "fixreload")));
      assertEquals(fixed.group(2), fixed.group(1), name + ": the written fixed model gives diagnose's accuracy");

      // the committed outputs are this run's numbers (to a few test images: other CPUs round
      // differently in the last bits)
      assertTrue(cell(committed, "summary").get("outputs").size() > 0, name + " is committed with its outputs");
      double[] fresh = summaryTop1(cell(nb, "summary"));
      double[] kept = summaryTop1(cell(committed, "summary"));
      assertEquals(5, fresh.length, name);
      assertEquals(5, kept.length, name + ": committed summary rows");
      assertEquals(fresh[4], fixedTop1(cell(nb, "fixreload")), 1e-4,
          name + ": the written fixed model gives the summary's number");
      for (int i = 0; i < fresh.length; i++) {
        assertEquals(fresh[i], kept[i], 0.0021, name + ": committed summary row " + i + " is not this run's");
      }
    }

    // the first one as a web page: plotly.js once, nothing from the network, figures drawn
    String first = notebooks.get(0).getFileName().toString();
    Result html = run(env, 300, "jupyter", "nbconvert", "--to", "html", OUT.resolve(first).toString(), "--output-dir", OUT.toString());
    assertEquals(0, html.status, html.output);
    Path page = OUT.resolve(first.replace(".ipynb", ".html"));
    String text = Files.readString(page, StandardCharsets.UTF_8);
    assertEquals(1, count(text, PLOTLY_HEADER), "plotly.js once in the page");
    assertFalse(
        java.util.regex.Pattern.compile("<(script|link)[^>]*(src|href)=[\"']?(https?:)?//").matcher(text).find(),
        "no script or style sheet from the network");
    Optional<String> chromium = which("chromium").or(() -> which("chromium-browser"));
    if (chromium.isPresent()) {
      long blue = plotlyBluePixels(chromium.get(), page, OUT.resolve(first.replace(".ipynb", ".png")));
      assertTrue(blue > 2000, "the case study's figures drew offline (" + blue + " plotly-blue pixels)");
    }
  }

  /**
   * The publishing step (scripts/make_notebooks.py --publish) on the executed smoke notebook: every
   * figure output gains a PNG (image/png, and inside its text/html for viewers that pick HTML), the
   * script-free export shows them, and the live page still draws one interactive figure each.
   */
  @Test
  @Order(7)
  void publishingAddsAStaticImageToEveryFigure() throws Exception {
    Assumptions.assumeTrue(jupyter, NO_JUPYTER);
    Path executed = OUT.resolve("smoke.ipynb");
    Assumptions.assumeTrue(Files.exists(executed), "the smoke notebook ran");
    Optional<String> chromium = which("chromium").or(() -> which("chromium-browser"));
    Assumptions.assumeTrue(chromium.isPresent(), "publishing draws the figures with headless Chromium");
    Path published = OUT.resolve("published").resolve("smoke.ipynb");
    Files.createDirectories(published.getParent());
    Files.copy(executed, published, StandardCopyOption.REPLACE_EXISTING);
    Result r = run(Map.of(), 600, "/usr/bin/python3", ROOT.resolve("scripts/make_notebooks.py").toString(),
        "--publish", published.toString());
    assertEquals(0, r.status, r.output);
    JsonNode nb = JSON.readTree(published.toFile());
    int figures = checkStaticImages(nb, "smoke.ipynb");
    assertEquals(2, figures, "the smoke notebook's two figures");
    Path html = staticExport(published);
    // the live export: scripts draw the interactive figures and take the pictures out
    Result live = run(env, 300, "jupyter", "nbconvert", "--to", "html", published.toString(),
        "--output-dir", published.getParent().toString(), "--output", "smoke-live");
    assertEquals(0, live.status, live.output);
    Path livePage = published.getParent().resolve("smoke-live.html");
    long blue = plotlyBluePixels(chromium.get(), livePage, OUT.resolve("smoke-live.png"));
    assertTrue(blue > 2000, "figures drawn: " + blue);
    long staticBlue = plotlyBluePixels(chromium.get(), html, OUT.resolve("smoke-static.png"));
    assertTrue(staticBlue > 2000, "the pictures show with no JavaScript at all: " + staticBlue);
  }

  /**
   * The committed case-study notebooks as GitHub shows them: every figure output carries a static
   * PNG of sane size (image/png, and in its text/html), the HTML export with every script removed
   * shows one picture per figure, and each notebook is at most 3 MB.
   */
  @Test
  @Order(8)
  void committedNotebooksShowEveryFigureWithoutJavaScript() throws Exception {
    Assumptions.assumeTrue(jupyter, NO_JUPYTER);
    for (Path nbFile : caseStudies()) {
      String name = nbFile.getFileName().toString();
      assertTrue(Files.size(nbFile) <= 3_000_000, name + " is " + Files.size(nbFile) + " bytes, over 3 MB");
      JsonNode nb = JSON.readTree(nbFile.toFile());
      int figures = checkStaticImages(nb, name);
      assertTrue(figures >= 9, name + ": figures " + figures);
      Path copy = OUT.resolve("static").resolve(name);
      Files.createDirectories(copy.getParent());
      Files.copy(nbFile, copy, StandardCopyOption.REPLACE_EXISTING);
      Path page = staticExport(copy);
      String text = Files.readString(page, StandardCharsets.UTF_8);
      int pictures = count(text, "<img class=\"qdebug-static\"");
      assertTrue(pictures >= figures, name + ": " + pictures + " pictures for " + figures + " figures");
    }
  }

  /** Checks every figure output of {@code nb}; returns how many there are. */
  static int checkStaticImages(JsonNode nb, String name) throws IOException {
    int figures = 0;
    for (JsonNode o : outputs(nb)) {
      if (!o.at("/data/application~1vnd.plotly.v1+json").isObject()) {
        continue;
      }
      figures++;
      String png = text(o.at("/data/image~1png")).replace("\n", "");
      assertFalse(png.isEmpty(), name + ": a figure without image/png (publish the notebook)");
      BufferedImage img = ImageIO.read(new java.io.ByteArrayInputStream(java.util.Base64.getDecoder().decode(png)));
      assertTrue(img != null && img.getWidth() >= 300 && img.getWidth() <= 1000 && img.getHeight() >= 200
          && img.getHeight() <= 1200, name + ": a picture of a figure's size: " + (img == null ? null : img.getWidth() + "x" + img.getHeight()));
      String html = text(o.at("/data/text~1html"));
      assertEquals(1, count(html, "<img class=\"qdebug-static\""), name + ": the picture inside the figure's HTML too");
      assertTrue(html.contains(png.substring(0, 200)), name + ": the same picture");
    }
    return figures;
  }

  /** nbconvert's HTML of {@code nb} with every script element removed (as GitHub renders it). */
  static Path staticExport(Path nb) throws Exception {
    Result r = run(env, 300, "jupyter", "nbconvert", "--to", "html", nb.toString(), "--output-dir", nb.getParent().toString());
    assertEquals(0, r.status, r.output);
    Path page = nb.getParent().resolve(nb.getFileName().toString().replace(".ipynb", ".html"));
    String text = Files.readString(page, StandardCharsets.UTF_8);
    String stripped = java.util.regex.Pattern.compile("(?is)<script\\b.*?</script>").matcher(text).replaceAll("");
    assertFalse(stripped.contains("Plotly.newPlot"), "every script removed");
    Path out = nb.getParent().resolve(nb.getFileName().toString().replace(".ipynb", "-static.html"));
    Files.writeString(out, stripped, StandardCharsets.UTF_8);
    return out;
  }

  static String streamText(JsonNode cell) {
    StringBuilder b = new StringBuilder();
    for (JsonNode o : byType(cell, "stream")) {
      b.append(text(o.get("text")));
    }
    return b.toString();
  }

  /** The top-1 the fix-it cell printed for the reloaded fixed model. */
  static double fixedTop1(JsonNode cell) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("fixed\\.onnx: top-1 ([0-9.]+)%").matcher(streamText(cell));
    assertTrue(m.find(), streamText(cell));
    return Double.parseDouble(m.group(1)) / 100;
  }

  /** The top-1 column of the summary table (its HTML: variant, top-1, percent-of-float). */
  static double[] summaryTop1(JsonNode cell) {
    String html = text(byType(cell, "execute_result").get(0).at("/data/text~1html"));
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("<tr><td[^>]*>[^<]*</td><td[^>]*>([0-9.]+)</td>").matcher(html);
    List<Double> v = new ArrayList<>();
    while (m.find()) {
      v.add(Double.parseDouble(m.group(1)));
    }
    return v.stream().mapToDouble(d -> d).toArray();
  }

  // ---------------------------------------------------------------- helpers

  static JsonNode cell(JsonNode nb, String id) {
    for (JsonNode c : nb.get("cells")) {
      if (c.get("id").asText().equals(id)) {
        return c;
      }
    }
    throw new AssertionError("no cell " + id);
  }

  static List<JsonNode> outputs(JsonNode nb) {
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode c : nb.get("cells")) {
      if (c.has("outputs")) {
        c.get("outputs").forEach(out::add);
      }
    }
    return out;
  }

  static List<JsonNode> byType(JsonNode cell, String type) {
    List<JsonNode> out = new ArrayList<>();
    cell.get("outputs").forEach(o -> {
      if (o.get("output_type").asText().equals(type)) {
        out.add(o);
      }
    });
    return out;
  }

  /** nbformat's multiline strings: one string, or a list of lines that keep their newlines. */
  static String text(JsonNode n) {
    if (n == null || n.isMissingNode() || n.isNull()) {
      return "";
    }
    if (n.isArray()) {
      StringBuilder b = new StringBuilder();
      n.forEach(x -> b.append(x.asText()));
      return b.toString();
    }
    return n.asText();
  }

  /** A traceback: a list of lines without newlines. */
  static String lines(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.forEach(x -> out.add(x.asText()));
    return String.join("\n", out);
  }

  static int count(String s, String part) {
    return RenderersTest.count(s, part);
  }

  record Result(int status, String output) {}

  static Result run(Map<String, String> extraEnv, long timeoutSeconds, String... cmd) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(extraEnv);
    pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
    Path log = Files.createTempFile(OUT, "run", ".log");
    pb.redirectOutput(log.toFile());
    Process p = pb.start();
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      fail(String.join(" ", cmd) + " ran over " + timeoutSeconds + " s:\n" + Files.readString(log));
    }
    return new Result(p.exitValue(), Files.readString(log));
  }

  static Optional<String> which(String program) {
    String path = System.getenv("PATH");
    if (path == null) {
      return Optional.empty();
    }
    for (String dir : path.split(File.pathSeparator)) {
      Path p = Path.of(dir, program);
      if (Files.isExecutable(p)) {
        return Optional.of(p.toString());
      }
    }
    return Optional.empty();
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
