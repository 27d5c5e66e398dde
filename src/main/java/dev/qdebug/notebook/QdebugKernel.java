package dev.qdebug.notebook;

import dev.qdebug.QdebugException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import jdk.jshell.SourceCodeAnalysis.Completeness;
import org.dflib.jjava.jupyter.channels.JupyterConnection;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.JupyterIO;
import org.dflib.jjava.jupyter.kernel.KernelConnectionProperties;
import org.dflib.jjava.jupyter.kernel.LanguageInfo;
import org.dflib.jjava.jupyter.kernel.ReplacementOptions;
import org.dflib.jjava.jupyter.kernel.comm.CommManager;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.util.StringStyler;
import org.dflib.jjava.jupyter.kernel.util.TextColor;

/**
 * qdebug's Jupyter kernel: Java cells evaluated by JShell in this JVM, with qdebug, Tablesaw and
 * ND4J imported and qdebug's renderers installed. Wiring only: {@link CellEvaluator} runs cells,
 * {@link QdebugExtension} renders values, jjava-jupyter speaks the protocol.
 *
 * <pre>{@code
 * QdebugKernel.run(Path.of(connectionFile)); // what "qdebug kernel run FILE" does
 * }</pre>
 */
public final class QdebugKernel extends BaseKernel {
  /** How long an interrupted cell may take to notice before its thread is stopped. */
  static final long STOP_AFTER_MILLIS = 2000;

  /** How often output without a newline is sent while a cell runs. */
  static final long FLUSH_MILLIS = 200;

  private static final ScheduledExecutorService FLUSHER =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "qdebug-output-flush");
            t.setDaemon(true);
            return t;
          });

  private final CellEvaluator evaluator;

  /** A kernel whose cells see the classes of {@code parent} (qdebug's class loader by default). */
  QdebugKernel(ClassLoader parent) {
    super(
        "qdebug",
        version(),
        new LanguageInfo.Builder("java")
            .version(Runtime.version().toString())
            .mimetype("text/x-java-source")
            .fileExtension(".jshell")
            .pygments("java")
            .codemirror("text/x-java")
            .build(),
        List.of(),
        null,
        new JupyterIO(StandardCharsets.UTF_8),
        new CommManager(),
        new Renderer(),
        null,
        null,
        true,
        new StringStyler.Builder()
            .addPrimaryStyle(TextColor.BOLD_RESET_FG)
            .addSecondaryStyle(TextColor.BOLD_RED_FG)
            .addHighlightStyle(TextColor.BOLD_RESET_FG)
            .build());
    this.evaluator = new CellEvaluator(parent, STOP_AFTER_MILLIS);
  }

  private static String version() {
    String v = QdebugKernel.class.getPackage().getImplementationVersion();
    return v == null ? "0.1.0" : v;
  }

  /**
   * Starts a kernel on the connection described by {@code connectionFile} (written by Jupyter) and
   * returns when the notebook shuts it down.
   *
   * @throws QdebugException if the file cannot be read or is not a connection file
   */
  public static void run(Path connectionFile) {
    KernelConnectionProperties props;
    try {
      props = KernelConnectionProperties.parse(Files.readString(connectionFile));
    } catch (IOException e) {
      throw new QdebugException(connectionFile + ": cannot read the connection file: " + e, e);
    } catch (RuntimeException e) {
      throw new QdebugException(connectionFile + ": not a Jupyter connection file: " + e.getMessage(), e);
    }
    QdebugKernel kernel = new QdebugKernel(QdebugKernel.class.getClassLoader());
    kernel.onStartup();
    JupyterConnection connection;
    try {
      connection = new JupyterConnection(props);
    } catch (java.security.GeneralSecurityException e) {
      throw new QdebugException(connectionFile + ": unusable signature key: " + e.getMessage(), e);
    }
    kernel.becomeHandlerForConnection(connection);
    connection.connect();
    connection.waitUntilClose();
    kernel.evaluator.close();
  }

  /** Installs qdebug's renderers and notebook helpers, then runs the startup imports. */
  @Override
  public void onStartup() {
    super.onStartup(); // the static notebook kernel, then Extensions (ours among them)
    installExtension(new QdebugExtension()); // in case the service file was lost in repackaging
    for (String failed : evaluator.startup()) {
      System.err.println("qdebug kernel: startup import failed: " + failed);
    }
  }

  @Override
  protected ClassLoader getClassLoader() {
    return evaluator.classLoader();
  }

  /**
   * Runs a cell. Output streams while it runs: lines at once, a partial line (a {@code print}
   * without newline) within {@value #FLUSH_MILLIS} ms.
   */
  @Override
  public Object evalRaw(String code) {
    ScheduledFuture<?> flushing =
        FLUSHER.scheduleWithFixedDelay(
            QdebugKernel::flushOutput, FLUSH_MILLIS, FLUSH_MILLIS, TimeUnit.MILLISECONDS);
    try {
      Optional<Object> v = evaluator.eval(code);
      return v.orElse(null);
    } finally {
      flushing.cancel(false);
      flushOutput();
      evaluator.afterCell();
      // ND4J frees the arrays the collection found on its own threads, shortly after
      FLUSHER.schedule(dev.qdebug.engine.MemoryBudget::trim, KernelMemory.TRIM_DELAY_MILLIS, TimeUnit.MILLISECONDS);
    }
  }

  private static void flushOutput() {
    System.out.flush();
    System.err.flush();
  }

  @Override
  public DisplayData inspect(String code, int at, boolean extraDetail) {
    List<String> doc = evaluator.documentation(code, at);
    if (doc.isEmpty()) {
      return null;
    }
    return new DisplayData(String.join("\n\n", doc));
  }

  @Override
  public ReplacementOptions complete(String code, int at) {
    CellEvaluator.Completions c = evaluator.complete(code, at);
    return new ReplacementOptions(c.options(), c.start(), at);
  }

  @Override
  public String isComplete(String code) {
    Completeness c = evaluator.completeness(code);
    if (c == Completeness.DEFINITELY_INCOMPLETE) {
      return "    ";
    }
    if (c == Completeness.UNKNOWN) {
      return IS_COMPLETE_BAD;
    }
    return IS_COMPLETE_YES;
  }

  @Override
  public void interrupt() {
    evaluator.interrupt();
  }

  /**
   * The traceback of a failed cell: compile errors under their source line; for an exception its
   * class, message and the frames down to the cell (the kernel's own frames are left out).
   */
  @Override
  public List<String> formatError(Throwable e) {
    List<String> lines = new ArrayList<>();
    if (e instanceof CompilationException c) {
      lines.add(errorStyler.secondary("Compilation error: ") + errorStyler.primary(c.getMessage()));
      lines.addAll(c.report());
      return lines;
    }
    if (e instanceof CellInterruptedException) {
      lines.add(errorStyler.secondary("Interrupted: ") + errorStyler.primary(e.getMessage()));
      return lines;
    }
    Throwable t = e instanceof CellEvaluator.EvaluationError && e.getCause() != null ? e.getCause() : e;
    StringWriter w = new StringWriter();
    t.printStackTrace(new PrintWriter(w));
    boolean first = true;
    for (String line : w.toString().split("\\R")) {
      if (isKernelFrame(line)) {
        continue;
      }
      lines.add(first ? errorStyler.secondary(line) : line);
      first = false;
    }
    return lines;
  }

  /** Frames below the cell: reflection, JShell, the worker thread and the kernel. */
  static boolean isKernelFrame(String line) {
    String s = line.strip();
    return s.startsWith("at java.base/jdk.internal.reflect.")
        || s.startsWith("at java.base/java.lang.reflect.Method.invoke")
        || s.startsWith("at java.base/java.util.concurrent.")
        || s.startsWith("at java.base/java.lang.Thread.run")
        || s.startsWith("at dev.qdebug.notebook.CellExecutionControl")
        || s.startsWith("at jdk.jshell/");
  }
}
