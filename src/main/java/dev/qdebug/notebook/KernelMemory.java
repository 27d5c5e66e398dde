package dev.qdebug.notebook;

import dev.qdebug.engine.MemoryBudget;
import dev.qdebug.engine.Session;

/**
 * What the kernel gives back after each cell. A notebook keeps models in variables from cell to
 * cell; each model's session keeps the workspace block of its largest run (a MobileViT session
 * after a batch of 16: about 96 MiB), ND4J arrays nothing references any more are freed only once
 * the garbage collector finds them, and glibc keeps freed memory resident. After each cell the
 * kernel therefore releases the workspaces of idle sessions (their next run learns the size
 * again; results are the same), collects garbage (which also shrinks the heap to the kernel's
 * {@code MaxHeapFreeRatio}), and trims the C heap, once at once and once after ND4J's deallocator
 * threads have freed what the collection found.
 */
final class KernelMemory {
  /** When the second trim runs, after the cell. */
  static final long TRIM_DELAY_MILLIS = 1000;

  private KernelMemory() {}

  /** On the thread that runs cells, after a cell. */
  static void afterCell() {
    Session.releaseIdleWorkspaces();
    System.gc();
    MemoryBudget.trim();
  }
}
