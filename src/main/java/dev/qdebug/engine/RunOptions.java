package dev.qdebug.engine;

import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * What a {@link Session#run} returns and who watches it: the tensors to return (any tensor of the
 * graph; the graph outputs when none are named) and a {@link TensorHook}. Immutable.
 */
public final class RunOptions {
  private static final RunOptions DEFAULTS = new RunOptions(List.of(), TensorHook.NONE);

  private final List<String> outputs;
  private final TensorHook hook;

  private RunOptions(List<String> outputs, TensorHook hook) {
    this.outputs = outputs;
    this.hook = hook;
  }

  /** Graph outputs, no hook. */
  public static RunOptions defaults() {
    return DEFAULTS;
  }

  /** Returns the named tensors instead of the graph outputs. */
  public static RunOptions outputs(String... tensors) {
    return DEFAULTS.withOutputs(Arrays.asList(tensors));
  }

  /** Returns the named tensors instead of the graph outputs. */
  public static RunOptions outputs(Collection<String> tensors) {
    return DEFAULTS.withOutputs(tensors);
  }

  /** Graph outputs, watched by {@code hook}. */
  public static RunOptions hooked(TensorHook hook) {
    return DEFAULTS.hook(hook);
  }

  /** A copy returning {@code tensors}. */
  public RunOptions withOutputs(Collection<String> tensors) {
    return new RunOptions(List.copyOf(tensors), hook);
  }

  /** A copy with {@code hook} in place of the current one. */
  public RunOptions hook(TensorHook hook) {
    return new RunOptions(outputs, hook);
  }

  public List<String> outputs() {
    return outputs;
  }

  public TensorHook hook() {
    return hook;
  }
}
