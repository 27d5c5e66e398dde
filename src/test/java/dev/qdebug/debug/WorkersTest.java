package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkersTest {
  @Test
  void everyTaskRunsOnceAndProgressIsReportedOnTheCallersThread() {
    int n = 60;
    AtomicIntegerArray runs = new AtomicIntegerArray(n);
    Set<String> threads = Collections.synchronizedSet(new HashSet<>());
    List<Integer> reported = new ArrayList<>();
    Set<Thread> reporters = new HashSet<>();
    AtomicInteger ended = new AtomicInteger();
    Workers.run(
        3,
        n,
        i -> {
          runs.incrementAndGet(i);
          threads.add(Thread.currentThread().getName());
          sleep(2);
        },
        done -> {
          reported.add(done);
          reporters.add(Thread.currentThread());
        },
        ended::incrementAndGet);
    for (int i = 0; i < n; i++) {
      assertEquals(1, runs.get(i), "task " + i);
    }
    assertEquals(Set.of(Thread.currentThread()), reporters);
    assertEquals(n, reported.get(reported.size() - 1));
    for (int k = 1; k < reported.size(); k++) {
      assertTrue(reported.get(k) >= reported.get(k - 1), "progress goes forward: " + reported);
    }
    assertEquals(2, ended.get(), "each extra thread ran its end action");
    assertTrue(threads.size() > 1, "tasks ran on several threads: " + threads);
  }

  @Test
  void aFailureStopsTheOtherThreadsAndIsRethrownAsThrown() {
    int n = 400;
    AtomicInteger started = new AtomicInteger();
    IllegalArgumentException boom = new IllegalArgumentException("node 'x': task 7 failed");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Workers.run(
                    2,
                    n,
                    i -> {
                      started.incrementAndGet();
                      sleep(1);
                      if (i == 7) {
                        throw boom;
                      }
                    },
                    done -> {},
                    () -> {}));
    assertSame(boom, e);
    assertTrue(started.get() < n, "the sweep stopped early: " + started.get() + " of " + n);
  }

  /** Task 7 fails first in time, task 3 later: task 3's failure is the one rethrown. */
  @Test
  void theFailureOfTheLowestTaskIsRethrownWhateverFailedFirst() {
    IllegalStateException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class,
            () ->
                Workers.run(
                    3,
                    10,
                    i -> {
                      if (i == 3) {
                        sleep(200);
                        throw new IllegalStateException("task 3");
                      }
                      if (i == 7) {
                        throw new IllegalStateException("task 7");
                      }
                      sleep(20);
                    },
                    done -> {},
                    () -> {}));
    org.junit.jupiter.api.Assertions.assertEquals("task 3", e.getMessage());
  }

  @Test
  void oneThreadRunsEverythingOnTheCaller() {
    Set<Thread> seen = new HashSet<>();
    Workers.run(1, 10, i -> seen.add(Thread.currentThread()), done -> {}, () -> {});
    assertEquals(Set.of(Thread.currentThread()), seen);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
