package dev.qdebug.notebook;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import jdk.jshell.execution.DirectExecutionControl;
import jdk.jshell.spi.ExecutionControl;
import jdk.jshell.spi.ExecutionControlProvider;
import jdk.jshell.spi.ExecutionEnv;

/**
 * Runs cell code in this JVM on one worker thread and keeps the real result objects (JShell's own
 * local engine only hands back their strings): {@link #invoke(Method)} stores each value under a
 * fresh key and returns the key, which JShell then reports as the snippet's "value". Exceptions
 * thrown by cell code are kept too, so errors show the real exception. {@link #interrupt()} stops
 * a running cell: first {@link Thread#interrupt()}, then, if the code ignores it, {@link
 * Thread#stop()}; where the JVM refuses that (Java 20+), the thread is abandoned and a fresh one
 * runs later cells.
 */
final class CellExecutionControl extends DirectExecutionControl {
  /** Prefix of the keys {@link #invoke(Method)} returns. */
  static final String KEY_PREFIX = "qdebug-value-";

  private static final AtomicInteger WORKERS = new AtomicInteger();

  private final SnippetLoader loader;
  private final long stopAfterMillis;
  private final Map<String, Optional<Object>> values = new ConcurrentHashMap<>();
  private final AtomicLong keys = new AtomicLong();
  private volatile ExecutorService worker;
  private volatile Run current;
  private volatile boolean interrupted;
  private volatile Throwable lastThrown;

  CellExecutionControl(SnippetLoader loader, long stopAfterMillis) {
    super(loader);
    this.loader = loader;
    this.stopAfterMillis = stopAfterMillis;
    this.worker = newWorker();
  }

  private ExecutorService newWorker() {
    return Executors.newSingleThreadExecutor(
        r -> {
          Thread t = new Thread(r, "qdebug-cell-" + WORKERS.incrementAndGet());
          t.setDaemon(true);
          t.setContextClassLoader(loader.classLoader());
          return t;
        });
  }

  /** A provider that hands JShell this control. */
  ExecutionControlProvider provider() {
    CellExecutionControl self = this;
    return new ExecutionControlProvider() {
      @Override
      public String name() {
        return "qdebug";
      }

      @Override
      public ExecutionControl generate(ExecutionEnv env, Map<String, String> parameters) {
        return self;
      }
    };
  }

  /** A snippet on its way: its outcome, and the thread running it once it started. */
  private record Run(CompletableFuture<Object> done, AtomicReference<Thread> thread) {}

  @Override
  protected String invoke(Method doit) throws Exception {
    if (interrupted) {
      throw new InvocationTargetException(new CellInterruptedException());
    }
    Run run = new Run(new CompletableFuture<>(), new AtomicReference<>());
    current = run;
    worker.execute(
        () -> {
          run.thread().set(Thread.currentThread());
          try {
            if (interrupted) {
              throw new CellInterruptedException(); // stopped before it started
            }
            run.done().complete(doit.invoke(null));
          } catch (Throwable t) { // everything cell code throws, ThreadDeath included
            run.done().completeExceptionally(t);
          } finally {
            run.thread().set(null);
          }
        });
    try {
      Object value = run.done().get();
      String key = KEY_PREFIX + keys.incrementAndGet();
      values.put(key, Optional.ofNullable(value));
      return key;
    } catch (ExecutionException e) {
      Throwable t = e.getCause();
      if (t instanceof InvocationTargetException ite && ite.getCause() != null) {
        t = ite.getCause();
      }
      lastThrown = interrupted ? new CellInterruptedException() : t;
      throw new InvocationTargetException(lastThrown);
    } finally {
      current = null;
    }
  }

  /** The value stored under {@code key}; empty if the key is unknown or the value was null. */
  Optional<Object> take(String key) {
    Optional<Object> v = key == null ? null : values.remove(key);
    return v == null ? Optional.empty() : v;
  }

  /** The exception the last failing snippet threw, forgetting it. */
  Optional<Throwable> takeThrown() {
    Throwable t = lastThrown;
    lastThrown = null;
    return Optional.ofNullable(t);
  }

  /** Forgets every stored value and a pending interrupt; called before each cell. */
  void reset() {
    values.clear();
    lastThrown = null;
    interrupted = false;
  }

  boolean interrupted() {
    return interrupted;
  }

  /**
   * Stops the running cell, if any, and refuses to run the rest of it. Returns at once; the stop
   * escalates on a helper thread.
   */
  void interrupt() {
    interrupted = true; // snippets that start from now on do not run
    Run run = current;
    Thread t = run == null ? null : run.thread().get();
    if (t == null) {
      return; // nothing runs, or the snippet will see the flag when it starts
    }
    t.interrupt();
    Thread escalate =
        new Thread(
            () -> {
              try {
                run.done().get(stopAfterMillis, TimeUnit.MILLISECONDS);
              } catch (TimeoutException e) {
                stopForcibly(t, run.done());
              } catch (Exception e) {
                // the cell ended
              }
            },
            "qdebug-interrupt");
    escalate.setDaemon(true);
    escalate.start();
  }

  @SuppressWarnings({"deprecation", "removal"})
  private void stopForcibly(Thread t, CompletableFuture<Object> c) {
    try {
      t.stop();
      c.get(stopAfterMillis, TimeUnit.MILLISECONDS);
      return;
    } catch (UnsupportedOperationException | TimeoutException e) {
      // Thread.stop is gone (Java 20+) or did not take: leave that thread, start a fresh one
    } catch (Exception e) {
      return; // the cell ended
    }
    ExecutorService old = worker;
    worker = newWorker();
    old.shutdownNow();
    c.completeExceptionally(new CellInterruptedException());
  }

  /**
   * Runs {@code task} on the thread that runs cells (what belongs to that thread, ND4J's
   * workspaces, can be released only there) and waits for it; what it throws is ignored.
   */
  void onCellThread(Runnable task) {
    try {
      worker.submit(task).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      // housekeeping only: the cell's outcome is already reported
    }
  }

  @Override
  public void stop() {
    interrupt();
  }

  @Override
  public void close() {
    worker.shutdownNow();
    super.close();
  }
}
