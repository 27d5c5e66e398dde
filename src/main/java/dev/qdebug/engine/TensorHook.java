package dev.qdebug.engine;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Sees every tensor of a run as it becomes available (graph inputs, then constants, then each
 * node's outputs in execution order) and returns the value the rest of the graph uses: the same
 * array to observe, another of the same shape to replace (fake quantization). A hook must not
 * modify the array it is given, except one given to {@link #onOwnedTensor}.
 *
 * <p><b>Lifetime.</b> The arrays a hook is given, and the arrays it creates during the call, live
 * in the running {@link Session}'s workspace: they are valid only until that run returns, after
 * which the next run reuses their memory. So a hook that keeps a tensor beyond its call (to
 * compare it after the run, to collect it across runs) must keep {@link Workspaces#keep
 * Workspaces.keep(value)} (a copy outside the workspace, or {@code value} itself when it already
 * is), never {@code value}; and an array it caches across runs (e.g. a fake-quantized weight
 * reused on every run) must be created inside {@link Workspaces#outside}. Reading the value inside
 * the call (statistics, copying to a Java array) and returning a new array need nothing special.
 * A hook may run another session (or this one) from inside the call.
 *
 * <p><b>Layout.</b> A value has its ONNX shape, but not always c-ordered strides: convolution
 * outputs are channels-last ({@link dev.qdebug.engine.ops.ChannelsLast}: NCHW shape over NHWC
 * memory) and other ops may return views. Read values through INDArray's methods, or {@code
 * dup('c')} before touching the buffer; what {@link Session#run} returns is c-ordered.
 */
@FunctionalInterface
public interface TensorHook {
  /** Returns the value downstream nodes (and the run's outputs) see for {@code tensor}. */
  INDArray onTensor(String tensor, INDArray value);

  /**
   * {@link #onTensor}, for a value nothing else references: an op's output made during this run
   * that shares memory with none of the op's inputs and other outputs (not a graph input, a
   * constant or a view). The hook may overwrite it and return it (fake quantization in place, no
   * second array); by default it is treated as any other value.
   */
  default INDArray onOwnedTensor(String tensor, INDArray value) {
    return onTensor(tensor, value);
  }

  /**
   * Whether this hook needs to see {@code tensor} at all (to observe or to replace it). A run
   * calls the hook only for tensors it touches, and may skip computing the others altogether
   * where a fused step does the work of several nodes (see {@link Plan}); the values of the
   * tensors the hook touches, and of every requested output, are the same either way. By
   * default a hook touches every tensor; {@link #only} declares fewer.
   */
  default boolean touches(String tensor) {
    return true;
  }

  /** A hook that changes nothing and touches no tensor. */
  TensorHook NONE =
      new TensorHook() {
        @Override
        public INDArray onTensor(String tensor, INDArray value) {
          return value;
        }

        @Override
        public boolean touches(String tensor) {
          return false;
        }
      };

  /**
   * {@code hook}, declared to touch only {@code tensors} (a live view: the set must not change
   * during a run); it is not called for any other tensor.
   */
  static TensorHook only(java.util.Set<String> tensors, TensorHook hook) {
    return new TensorHook() {
      @Override
      public INDArray onTensor(String tensor, INDArray value) {
        return tensors.contains(tensor) ? hook.onTensor(tensor, value) : value;
      }

      @Override
      public INDArray onOwnedTensor(String tensor, INDArray value) {
        return tensors.contains(tensor) ? hook.onOwnedTensor(tensor, value) : value;
      }

      @Override
      public boolean touches(String tensor) {
        return tensors.contains(tensor) && hook.touches(tensor);
      }
    };
  }

  /**
   * This hook, then {@code next} on what this one returned; touches what either touches. An owned
   * value goes to the first of them that touches the tensor as owned; the second sees what the
   * first returned as an ordinary value.
   */
  default TensorHook andThen(TensorHook next) {
    TensorHook first = this;
    return new TensorHook() {
      @Override
      public INDArray onTensor(String tensor, INDArray value) {
        return next.onTensor(tensor, first.onTensor(tensor, value));
      }

      @Override
      public INDArray onOwnedTensor(String tensor, INDArray value) {
        if (!first.touches(tensor)) {
          return next.onOwnedTensor(tensor, value);
        }
        return next.onTensor(tensor, first.onOwnedTensor(tensor, value));
      }

      @Override
      public boolean touches(String tensor) {
        return first.touches(tensor) || next.touches(tensor);
      }
    };
  }
}
