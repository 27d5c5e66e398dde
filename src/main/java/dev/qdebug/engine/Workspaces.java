package dev.qdebug.engine;

import java.util.function.Supplier;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The memory rule of the engine. A {@link Session} runs its plan inside an ND4J workspace of its
 * own: every array created during a run (op outputs, temporaries, what hooks create) is carved
 * out of one block that the next run of the same session reuses, so steady-state runs allocate no
 * new off-heap memory. Such an array is valid only until its run returns. Two things therefore
 * have to live outside the workspace:
 *
 * <ul>
 *   <li>arrays kept across runs, e.g. an op's or a hook's cache (permuted convolution weights,
 *       fake-quantized weights): create them inside {@link #outside};
 *   <li>tensors a hook keeps after its call returns (captures for an analysis): keep {@link
 *       #keep keep(value)}, never {@code value} itself.
 * </ul>
 *
 * The values {@link Session#run} returns are already outside every workspace.
 */
public final class Workspaces {
  private Workspaces() {}

  /**
   * Runs {@code body} with no workspace active on this thread: the arrays it creates are ordinary
   * (garbage-collected) ND4J arrays that stay valid after the current run. The previous workspace
   * is active again afterwards.
   */
  public static <T> T outside(Supplier<T> body) {
    if (Nd4j.getMemoryManager().getCurrentWorkspace() == null) {
      return body.get();
    }
    try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
      return body.get();
    }
  }

  /**
   * {@code value} itself when it lives outside every workspace (a graph input, a constant, a
   * cached array), else a copy that does: what a hook stores to use after its call returns.
   */
  public static INDArray keep(INDArray value) {
    return value == null || !value.isAttached() ? value : value.detach();
  }

  /** Whether {@code value} lives in a workspace (and so is valid only during its run). */
  public static boolean inWorkspace(INDArray value) {
    return value != null && value.isAttached();
  }
}
