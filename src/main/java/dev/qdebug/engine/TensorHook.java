package dev.qdebug.engine;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Sees every tensor of a run as it becomes available (graph inputs, then constants, then each
 * node's outputs in execution order) and returns the value the rest of the graph uses: the same
 * array to observe, another of the same shape to replace (fake quantization). A hook must not
 * modify the array it is given.
 */
@FunctionalInterface
public interface TensorHook {
  /** Returns the value downstream nodes (and the run's outputs) see for {@code tensor}. */
  INDArray onTensor(String tensor, INDArray value);

  /** A hook that changes nothing. */
  TensorHook NONE = (name, value) -> value;

  /** This hook, then {@code next} on what this one returned. */
  default TensorHook andThen(TensorHook next) {
    return (name, value) -> next.onTensor(name, onTensor(name, value));
  }
}
