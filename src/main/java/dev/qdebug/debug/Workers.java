package dev.qdebug.debug;

import dev.qdebug.data.BatchPlan;
import dev.qdebug.data.SampleSet;
import dev.qdebug.engine.Session;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * Independent tasks of a sweep (one candidate's re-run and scores each) on several threads, the
 * caller's among them. A re-run of a small model keeps about one core busy: ND4J's ops on tensors
 * of a few hundred thousand values parallelize poorly, and the steps between them run on the
 * caller's thread. Two re-runs at once use the second core (measured on the MobileViT case study,
 * 2 cores: see README, "Products and candidates on both cores").
 *
 * <p>Each thread runs the session in a workspace of its own ({@link Session}); the extra threads
 * free theirs when the sweep ends. Results do not depend on the number of threads: each task
 * writes its own cells. Progress is reported on the caller's thread only (a notebook's display
 * belongs to it). A failing task stops the hand-out of tasks (running ones finish); the failure
 * of the lowest task index is rethrown as it was thrown, as one thread would have thrown it.
 *
 * <p>{@code -D}{@value #THREADS_PROPERTY}{@code =N} sets the number of threads; the default is the
 * number of cores, at most {@value #MAX_DEFAULT}: each thread holds one more re-run's tensors,
 * and ND4J's own threads already share the cores. Only small models use them ({@link Sweep}).
 */
final class Workers {
  private Workers() {}

  /** System property: how many threads a sweep runs its candidates on. */
  static final String THREADS_PROPERTY = "qdebug.sweep.threads";

  /** The most threads used when {@value #THREADS_PROPERTY} is not set. */
  static final int MAX_DEFAULT = 2;

  /** How many threads sweeps use. */
  static int threads() {
    Integer set = Integer.getInteger(THREADS_PROPERTY);
    int n = set != null ? set : Math.min(MAX_DEFAULT, Runtime.getRuntime().availableProcessors());
    return Math.max(1, n);
  }

  /**
   * Tensor bytes of one sample up to which a model counts as small enough for candidates on
   * several threads: the case studies hold 0.1-7.4 MiB per sample, and the MobileViT one's sweeps
   * ran 1.9-2.3x faster on two threads; MnasNet 1.0 at 224x224 (41 MiB) 1.0-1.25x, for 1.1 GB more memory, its convolutions
   * already using both cores.
   */
  static final long SMALL_SAMPLE_BYTES = 16L << 20;

  /**
   * A sweep's batches and the threads its candidates run on: {@link #threads} for a small model
   * ({@link #SMALL_SAMPLE_BYTES}), each extra thread counted as one more copy of a batch's tensors
   * (its re-run) in the batch plan; one thread otherwise.
   */
  record Sweep(Session session, BatchPlan plan, int threads) {
    /** A sweep's plan: its copies are {@link BatchPlan#SWEEP}'s. */
    static Sweep of(Session session, SampleSet data, int n, String what) {
      return of(session, data, n, BatchPlan.SWEEP, what);
    }

    /** The plan of a pass holding {@code copies} of a batch's tensors on one thread. */
    static Sweep of(Session session, SampleSet data, int n, int copies, String what) {
      BatchPlan plan = BatchPlan.of(session, data, n, copies, what);
      int threads = Workers.threads();
      if (threads == 1 || plan.bytesPerSample() > SMALL_SAMPLE_BYTES) {
        return new Sweep(session, plan, 1);
      }
      return new Sweep(session, BatchPlan.of(session, data, n, copies + threads - 1, what), threads);
    }

    /** The batches, grouped by shape. */
    List<BatchPlan.Batch> batches() {
      return plan.batches();
    }

    /** {@link Workers#run} of {@code n} tasks on this sweep's threads. */
    void run(int n, IntConsumer task, IntConsumer progress) {
      Workers.run(session, threads, n, task, progress);
    }
  }

  /**
   * Runs {@code task} for 0 to {@code n - 1}, each once, on {@code threads} threads;
   * {@code progress} gets the number of finished tasks, on the caller's thread, after each of the
   * caller's own tasks and at the end. Each extra thread frees {@code session}'s workspace block
   * for itself when it ends.
   */
  private static void run(
      Session session, int threads, int n, IntConsumer task, IntConsumer progress) {
    run(threads, n, task, progress, session::releaseWorkspace);
  }

  /** A task that failed: its index and what it threw. */
  private record Failure(int task, Throwable error) {}

  /**
   * As {@link Sweep#run}, on {@code threads} threads; each extra thread runs {@code atEnd} last. A
   * failing task stops the hand-out of further tasks; the ones already running finish, and the
   * failure of the lowest task index is rethrown as it was thrown: what one thread, running the
   * tasks in order, would have thrown (every task before it was handed out, and ran, first).
   */
  static void run(int threads, int n, IntConsumer task, IntConsumer progress, Runnable atEnd) {
    threads = Math.max(1, Math.min(threads, n));
    AtomicInteger next = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Failure> failure = new AtomicReference<>();
    Runnable loop =
        () -> {
          int i;
          while (!stop.get() && (i = next.getAndIncrement()) < n) {
            try {
              task.accept(i);
            } catch (Throwable e) {
              failed(failure, stop, i, e);
              return;
            }
            done.incrementAndGet();
          }
        };
    Thread[] extra = new Thread[threads - 1];
    try {
      for (int t = 0; t < extra.length; t++) {
        Thread w =
            new Thread(
                () -> {
                  try {
                    loop.run();
                  } finally {
                    atEnd.run(); // e.g. this thread's workspace block: the thread ends here
                  }
                },
                "qdebug-sweep-" + (t + 1));
        w.setDaemon(true);
        w.start();
        extra[t] = w;
      }
      int i;
      while (!stop.get() && (i = next.getAndIncrement()) < n) {
        try {
          task.accept(i);
        } catch (RuntimeException e) {
          failed(failure, stop, i, e);
          break;
        }
        progress.accept(done.incrementAndGet());
      }
    } catch (Error e) {
      // also a stopped notebook cell (ThreadDeath): the other threads end after their task
      stop.set(true);
      join(extra);
      throw e;
    }
    join(extra);
    Failure f = failure.get();
    if (f != null && f.error() instanceof RuntimeException r) {
      throw r;
    }
    if (f != null && f.error() instanceof Error e) {
      throw e;
    }
    if (f != null) {
      throw new IllegalStateException(f.error());
    }
    progress.accept(done.get());
  }

  /** Records that task {@code i} threw {@code e} (the lowest index wins) and stops the hand-out. */
  private static void failed(
      AtomicReference<Failure> failure, AtomicBoolean stop, int i, Throwable e) {
    Failure f = new Failure(i, e);
    failure.accumulateAndGet(f, (x, y) -> x == null || y.task() < x.task() ? y : x);
    stop.set(true);
  }

  /** Waits for {@code threads} to end, even when interrupted (they stop after their task). */
  private static void join(Thread[] threads) {
    boolean interrupted = false;
    for (Thread t : threads) {
      while (t != null && t.isAlive()) {
        try {
          t.join();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
