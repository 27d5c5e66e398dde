package dev.qdebug.notebook;

import java.util.Optional;
import java.util.UUID;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;

/** A jjava kernel in this JVM: qdebug's own, or a stock jjava kernel that loaded qdebug's jar. */
final class JJavaFrontend implements Frontend {
  private final BaseKernel kernel;

  private JJavaFrontend(BaseKernel kernel) {
    this.kernel = kernel;
  }

  /** The jjava kernel running in this JVM, if one is. */
  static Optional<JJavaFrontend> find() {
    try {
      return Optional.of(new JJavaFrontend(BaseKernel.notebookKernel()));
    } catch (NullPointerException | LinkageError e) {
      return Optional.empty(); // no kernel started, or no jjava at all
    }
  }

  BaseKernel kernel() {
    return kernel;
  }

  private DisplayData render(Object value) {
    return value instanceof DisplayData d ? d : kernel.getRenderer().render(value);
  }

  @Override
  public String display(Object value) {
    DisplayData d = render(value);
    if (!d.hasDisplayId()) {
      d.setDisplayId(UUID.randomUUID().toString());
    }
    kernel.display(d);
    return d.getDisplayId();
  }

  @Override
  public void updateDisplay(String id, Object value) {
    kernel.getIO().display.updateDisplay(id, render(value));
  }

  /** jjava's execution count ({@code BaseKernel.executionCount}, protected: read reflectively). */
  @Override
  public long cell() {
    if (EXECUTION_COUNT == null) {
      return -1;
    }
    try {
      return ((java.util.concurrent.atomic.AtomicInteger) EXECUTION_COUNT.get(kernel)).get();
    } catch (ReflectiveOperationException | RuntimeException e) {
      return -1;
    }
  }

  /** {@code BaseKernel.executionCount}, or null where this jjava version lacks it. */
  private static final java.lang.reflect.Field EXECUTION_COUNT = executionCountField();

  private static java.lang.reflect.Field executionCountField() {
    try {
      java.lang.reflect.Field f = BaseKernel.class.getDeclaredField("executionCount");
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      return null;
    }
  }
}
