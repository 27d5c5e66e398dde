package dev.qdebug.notebook;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;
import jdk.jshell.Diag;
import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.JShellException;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.SourceCodeAnalysis.Completeness;
import jdk.jshell.UnresolvedReferenceException;

/**
 * Evaluates cells with JShell in this JVM: splits a cell into snippets, evaluates them in order,
 * stops at the first that fails, and returns the value of the last one if it is an expression not
 * followed by a semicolon ({@code t} shows the table, {@code list.add(x);} shows nothing).
 * Failures come back as exceptions: {@link CompilationException} for code that does not compile,
 * the cell's own exception (the real object) for code that throws, {@link
 * CellInterruptedException} after {@link #interrupt()}.
 */
final class CellEvaluator implements AutoCloseable {
  /** What every session imports before the first cell. */
  static final List<String> STARTUP_IMPORTS =
      List.of(
          "import java.util.*;",
          "import java.util.stream.*;",
          "import java.nio.file.*;",
          "import tech.tablesaw.api.*;",
          "import tech.tablesaw.plotly.components.Figure;",
          "import org.nd4j.linalg.api.ndarray.INDArray;",
          "import org.nd4j.linalg.factory.Nd4j;",
          "import dev.qdebug.*;",
          "import dev.qdebug.onnx.*;",
          "import dev.qdebug.data.*;",
          "import dev.qdebug.engine.*;",
          "import dev.qdebug.quant.*;",
          "import dev.qdebug.metrics.*;",
          "import dev.qdebug.debug.*;",
          "import dev.qdebug.viz.*;",
          // names both java.util and qdebug have: qdebug's win
          "import dev.qdebug.quant.Observer;",
          // Notebook.reloadPlotly() as well as reloadPlotly()
          "import dev.qdebug.notebook.Notebook;",
          "import static dev.qdebug.notebook.Notebook.*;");

  private final SnippetLoader loader;
  private final CellExecutionControl control;
  private final JShell shell;

  /**
   * A fresh JShell whose cell classes see {@code parent}'s classes.
   *
   * @param stopAfterMillis how long an interrupted cell may take to notice before it is stopped
   */
  CellEvaluator(ClassLoader parent, long stopAfterMillis) {
    this.loader = new SnippetLoader(parent);
    this.control = new CellExecutionControl(loader, stopAfterMillis);
    this.shell =
        JShell.builder()
            .executionEngine(control.provider(), java.util.Map.of())
            .compilerOptions("-proc:none")
            .build();
  }

  /** Runs the startup imports; returns the ones that failed (with why), normally none. */
  List<String> startup() {
    List<String> failed = new ArrayList<>();
    for (String s : STARTUP_IMPORTS) {
      try {
        eval(s);
      } catch (RuntimeException e) {
        failed.add(s + " " + e.getMessage());
      }
    }
    return failed;
  }

  /**
   * Gives back the memory a cell left behind ({@link KernelMemory#afterCell}), on the thread that
   * runs cells.
   */
  void afterCell() {
    control.onCellThread(KernelMemory::afterCell);
  }

  /** The class loader of cell code. */
  ClassLoader classLoader() {
    return loader.classLoader();
  }

  /** Adds jars or folders ({@link java.io.File#pathSeparator}-separated) to cells' class path. */
  void addToClasspath(String path) {
    shell.addToClasspath(path);
  }

  /**
   * Evaluates {@code code}; returns the value of its last snippet when that is an expression
   * without a closing semicolon and its value is not null.
   *
   * @throws CompilationException if a snippet does not compile (earlier snippets have run)
   * @throws CellInterruptedException if {@link #interrupt()} was called while it ran
   */
  Optional<Object> eval(String code) {
    control.reset();
    Optional<Object> last = Optional.empty();
    SourceCodeAnalysis sca = shell.sourceCodeAnalysis();
    String remaining = code;
    while (!remaining.isBlank()) {
      SourceCodeAnalysis.CompletionInfo info = sca.analyzeCompletion(remaining);
      if (info.completeness() == Completeness.DEFINITELY_INCOMPLETE) {
        throw new CompilationException(
            "the cell ends in the middle of a statement",
            List.of("the cell ends in the middle of a statement:", remaining.strip()));
      }
      if (info.completeness() == Completeness.EMPTY) {
        break;
      }
      String source = info.completeness() == Completeness.UNKNOWN ? remaining : info.source();
      remaining = info.completeness() == Completeness.UNKNOWN ? "" : info.remaining();
      last = evalSnippet(source);
      if (source.strip().endsWith(";")) {
        last = Optional.empty(); // shown only without a closing ';', as in IPython
      }
      if (control.interrupted()) {
        throw new CellInterruptedException();
      }
    }
    return last;
  }

  private Optional<Object> evalSnippet(String source) {
    Optional<Object> value = Optional.empty();
    for (SnippetEvent e : shell.eval(source)) {
      if (e.causeSnippet() != null) {
        continue; // an update of another snippet this one caused
      }
      Snippet s = e.snippet();
      if (e.status() == Snippet.Status.REJECTED) {
        throw compilationError(s);
      }
      JShellException thrown = e.exception();
      if (thrown != null) {
        throw failure(thrown);
      }
      Optional<Object> v = control.take(e.value());
      if (isExpression(s)) {
        value = v;
      } else {
        value = Optional.empty();
      }
      if (e.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED) {
        System.err.println(
            "note: "
                + s.source().strip().lines().findFirst().orElse("")
                + " is not usable until "
                + unresolved(s)
                + " is defined");
      }
    }
    return value;
  }

  private static boolean isExpression(Snippet s) {
    return switch (s.subKind()) {
      case TEMP_VAR_EXPRESSION_SUBKIND, VAR_VALUE_SUBKIND, OTHER_EXPRESSION_SUBKIND -> true;
      default -> false;
    };
  }

  private RuntimeException failure(JShellException thrown) {
    if (control.interrupted()) {
      control.takeThrown();
      return new CellInterruptedException();
    }
    if (thrown instanceof UnresolvedReferenceException u) {
      return new CompilationException(
          u.getSnippet().source().strip().lines().findFirst().orElse("")
              + " uses "
              + unresolved(u.getSnippet())
              + ", which is not defined",
          List.of());
    }
    Throwable real = control.takeThrown().orElse(null);
    if (real == null && thrown instanceof EvalException ee) {
      real = new RuntimeException(ee.getExceptionClassName() + ": " + ee.getMessage());
    }
    if (real == null) {
      real = thrown;
    }
    if (real instanceof CellInterruptedException c) {
      return c;
    }
    if (real instanceof Exception ex) {
      return Sneaky.rethrow(ex);
    }
    return new EvaluationError(real);
  }

  private String unresolved(Snippet s) {
    if (s instanceof jdk.jshell.DeclarationSnippet d) {
      return shell.unresolvedDependencies(d).collect(Collectors.joining(", "));
    }
    return "a name";
  }

  private CompilationException compilationError(Snippet s) {
    String src = s.source();
    List<String> report = new ArrayList<>();
    String first = null;
    for (Diag d : shell.diagnostics(s).toList()) {
      if (!d.isError()) {
        continue;
      }
      String msg = d.getMessage(Locale.ROOT);
      if (first == null) {
        first = msg.lines().findFirst().orElse(msg);
      }
      int pos = (int) Math.max(0, Math.min(src.length(), d.getStartPosition()));
      int end = (int) Math.max(pos, Math.min(src.length(), d.getEndPosition()));
      int lineStart = src.lastIndexOf('\n', Math.max(0, pos - 1)) + 1;
      if (pos > 0 && src.charAt(pos - 1) == '\n') {
        lineStart = pos;
      }
      int lineEnd = src.indexOf('\n', pos);
      if (lineEnd < 0) {
        lineEnd = src.length();
      }
      String line = src.substring(lineStart, lineEnd);
      report.add(line);
      report.add(" ".repeat(pos - lineStart) + "^" + "~".repeat(Math.max(0, Math.min(end, lineEnd) - pos - 1)));
      // JShell wraps cells in a class without a name: its "location" line says nothing
      report.addAll(msg.lines().filter(l -> !l.strip().equals("location: class")).toList());
    }
    if (first == null) {
      first = "the snippet was rejected: " + src.strip();
      report.add(first);
    }
    return new CompilationException(first, report);
  }

  /** Whether {@code code} can run as it is ({@code complete}), needs more lines, or is invalid. */
  Completeness completeness(String code) {
    SourceCodeAnalysis sca = shell.sourceCodeAnalysis();
    String remaining = code;
    Completeness c = Completeness.EMPTY;
    while (!remaining.isBlank()) {
      SourceCodeAnalysis.CompletionInfo info = sca.analyzeCompletion(remaining);
      c = info.completeness();
      if (!c.isComplete()) {
        return c;
      }
      remaining = info.remaining();
    }
    return c;
  }

  /** Completions at {@code cursor}: the text to insert and where the replaced part starts. */
  Completions complete(String code, int cursor) {
    int[] anchor = new int[1];
    List<String> options =
        shell.sourceCodeAnalysis().completionSuggestions(code, cursor, anchor).stream()
            .map(SourceCodeAnalysis.Suggestion::continuation)
            .distinct()
            .toList();
    return new Completions(options, anchor[0]);
  }

  /** The completion options at a cursor and where the text they replace starts. */
  record Completions(List<String> options, int start) {}

  /** Signatures (and Javadoc, where the JDK has it) of what is at {@code cursor}. */
  List<String> documentation(String code, int cursor) {
    List<String> out = new ArrayList<>();
    for (SourceCodeAnalysis.Documentation d :
        shell.sourceCodeAnalysis().documentation(code, cursor, true)) {
      out.add(d.signature());
      if (d.javadoc() != null && !d.javadoc().isBlank()) {
        out.add(d.javadoc());
      }
    }
    return out;
  }

  /** Stops the running cell (from another thread); the cell fails with an interruption. */
  void interrupt() {
    control.interrupt();
  }

  @Override
  public void close() {
    shell.close();
  }

  /** An {@link Error} a cell threw (stack overflow, out of memory, an assertion). */
  static final class EvaluationError extends RuntimeException {
    EvaluationError(Throwable error) {
      super(error.toString(), error);
    }
  }

  /** Throws a checked exception without declaring it (the cell's own exception, as it is). */
  private static final class Sneaky {
    @SuppressWarnings("unchecked")
    static <E extends Throwable> RuntimeException rethrow(Throwable t) throws E {
      throw (E) t;
    }
  }
}
