package dev.qdebug.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import jdk.jshell.SourceCodeAnalysis.Completeness;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tech.tablesaw.api.Table;

/** JShell cells in this JVM, without Jupyter: values, errors, interrupts, imports. */
class CellEvaluatorTest {
  static CellEvaluator cells;

  @BeforeAll
  static void start() {
    cells = new CellEvaluator(CellEvaluatorTest.class.getClassLoader(), 500);
    assertEquals(List.of(), cells.startup(), "every startup import compiles");
  }

  @AfterAll
  static void stop() {
    cells.close();
  }

  @Test
  void lastExpressionIsTheRealObjectOfTheKernelsClass() {
    Optional<Object> v =
        cells.eval("var t = Table.create(\"t\", DoubleColumn.create(\"x\", 1, 2));\nt.rowCount();\nt\n");
    assertInstanceOf(Table.class, v.orElseThrow(), "same Table class as the kernel's renderers");
    assertEquals(2, ((Table) v.get()).rowCount());
    assertSame(v.get(), cells.eval("t").orElseThrow(), "a variable's value is the same object");
  }

  @Test
  void statementsAndDeclarationsShowNothing() {
    assertEquals(Optional.empty(), cells.eval("int a = 3;"));
    assertEquals(Optional.empty(), cells.eval("a++;"), "a semicolon hides the value");
    assertEquals(Optional.empty(), cells.eval("System.out.printf(\"\");"), "printf returns its PrintStream");
    assertEquals(Optional.empty(), cells.eval("void f() {}"));
    assertEquals(Optional.empty(), cells.eval("f()"));
    assertEquals(Optional.empty(), cells.eval("(Object) null"), "null shows nothing");
    assertEquals(4, cells.eval("a").orElseThrow());
    assertEquals(5, cells.eval("++a").orElseThrow(), "no semicolon: shown");
    assertEquals(Optional.empty(), cells.eval("   \n// only a comment\n"));
  }

  @Test
  void qdebugNd4jAndJdkNamesAreImported() {
    assertEquals(
        6.0,
        ((Number)
                cells
                    .eval("INDArray x = Nd4j.createFromArray(new float[] {1, 2, 3});\nx.sumNumber()")
                    .orElseThrow())
            .doubleValue());
    assertEquals(true, cells.eval("Progress.NONE != null && Files.exists(Path.of(\"/\"))").orElseThrow());
    assertEquals("MAX", cells.eval("CalibrationMethod.MAX.name()").orElseThrow());
    assertEquals(
        "dev.qdebug.quant.Observer",
        cells.eval("Observer.class.getName()").orElseThrow(),
        "qdebug's Observer wins over java.util's");
    assertEquals("x", cells.eval("html(\"<b>x</b>\").text()").orElseThrow(), "Notebook's helpers");
    assertEquals(Optional.empty(), cells.eval("Notebook.reloadPlotly();"), "README's form compiles too");
    assertEquals(Optional.empty(), cells.eval("reloadPlotly();"));
  }

  @Test
  void aThrowingCellThrowsTheRealExceptionAfterItsOutput() {
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    IllegalStateException e;
    try {
      e =
          assertThrows(
              IllegalStateException.class,
              () ->
                  cells.eval(
                      "System.out.println(\"before\");\n"
                          + "throw new IllegalStateException(\"boom\");\n"
                          + "System.out.println(\"after\");"));
    } finally {
      System.setOut(old);
    }
    assertEquals("boom", e.getMessage());
    assertEquals("before\n", out.toString(StandardCharsets.UTF_8).replace("\r", ""));
    assertTrue(e.getStackTrace()[0].getClassName().contains("JShell"), "thrown in the cell");
  }

  @Test
  void checkedExceptionsAndErrorsComeBackToo() throws Exception {
    assertThrows(java.io.IOException.class, () -> cells.eval("throw new java.io.IOException(\"io\");"));
    var e = assertThrows(CellEvaluator.EvaluationError.class, () -> cells.eval("throw new AssertionError(\"no\");"));
    assertInstanceOf(AssertionError.class, e.getCause());
    assertEquals(2, cells.eval("1 + 1").orElseThrow(), "and the next cell runs");
  }

  @Test
  void compileErrorsPointAtTheSource() {
    CompilationException e =
        assertThrows(CompilationException.class, () -> cells.eval("int ok = 1;\nnoSuchName + 1"));
    assertEquals("cannot find symbol", e.getMessage());
    assertEquals("noSuchName + 1", e.report().get(0));
    assertEquals("^~~~~~~~~~", e.report().get(1));
    assertTrue(e.report().stream().anyMatch(l -> l.contains("variable noSuchName")), e.report().toString());
    assertFalse(e.report().stream().anyMatch(l -> l.strip().equals("location: class")));
    assertEquals(1, cells.eval("ok").orElseThrow(), "snippets before the error ran");
    assertThrows(CompilationException.class, () -> cells.eval("for (int i = 0; i < 3; i++) {"));
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void anInterruptStopsSleepingAndSpinningCellsAndTheNextCellRuns() throws Exception {
    for (String cell :
        List.of("Thread.sleep(60_000);", "long n = 0; while (true) { n++; }", "while (true) {}")) {
      CompletableFuture<Throwable> failed = new CompletableFuture<>();
      Thread t =
          new Thread(
              () -> {
                try {
                  cells.eval(cell + "\nSystem.out.println(\"not reached\");");
                  failed.complete(null);
                } catch (Throwable e) {
                  failed.complete(e);
                }
              });
      t.start();
      Thread.sleep(1000);
      long t0 = System.nanoTime();
      cells.interrupt();
      Throwable e = failed.get(30, TimeUnit.SECONDS);
      assertInstanceOf(CellInterruptedException.class, e, cell);
      assertTrue((System.nanoTime() - t0) / 1e9 < 10, cell + " stopped in time");
      assertEquals(3, cells.eval("1 + 2").orElseThrow(), "the kernel lives on after " + cell);
    }
  }

  @Test
  void completenessCompletionAndDocumentation() {
    assertEquals(Completeness.DEFINITELY_INCOMPLETE, cells.completeness("for (int i = 0; i < 3; i++) {"));
    assertTrue(cells.completeness("int q = 1;\nq").isComplete());
    CellEvaluator.Completions c = cells.complete("Table.crea", 10);
    assertTrue(c.options().contains("create("), c.options().toString());
    assertEquals(6, c.start());
    assertTrue(
        cells.documentation("Math.max(", 9).stream().anyMatch(s -> s.contains("max(int")),
        "signatures of Math.max");
  }

  @Test
  void afterACellIdleSessionsGiveTheirWorkspaceBack() throws Exception {
    String model =
        java.nio.file.Path.of(CellEvaluatorTest.class.getResource("/models/repvgg_like_op13.onnx").toURI())
            .toString()
            .replace("\\", "\\\\");
    cells.eval(
        "Session kept = Session.open(OnnxModel.load(Path.of(\"" + model + "\")));\n"
            + "long[] shape = kept.inputs().get(0).shape().clone(); shape[0] = 4;\n"
            + "INDArray x = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, shape);\n"
            + "String out = kept.outputs().get(0).name();\n"
            + "double[] first = kept.run(Map.of(kept.inputs().get(0).name(), x)).get(out).dup('c').data().asDouble();\n"
            + "kept.run(Map.of(kept.inputs().get(0).name(), x));");
    assertTrue((Long) cells.eval("kept.workspaceBytes()").orElseThrow() > 0, "no block to give back");
    cells.afterCell();
    assertEquals(0L, cells.eval("kept.workspaceBytes()").orElseThrow());
    assertEquals(
        true,
        cells.eval(
                "Arrays.equals(first, kept.run(Map.of(kept.inputs().get(0).name(), x)).get(out).dup('c').data().asDouble())")
            .orElseThrow(),
        "the same result after the release");
    cells.eval("kept.close();");
  }
}
