package dev.qdebug.engine;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One compiled node. Built once from its {@link dev.qdebug.onnx.OnnxNode} (attributes parsed into
 * typed fields, bad ones rejected naming the node); {@link #run} is pure: it neither keeps nor
 * modifies its inputs (outputs may be views of them) and knows nothing of the graph or hooks.
 */
@FunctionalInterface
public interface Op {
  /**
   * Computes the node's outputs.
   *
   * @param inputs one per node input, {@code null} where an optional input is omitted
   * @return one array per node output, in order
   */
  INDArray[] run(INDArray[] inputs);
}
