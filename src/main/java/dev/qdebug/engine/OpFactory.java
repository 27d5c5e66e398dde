package dev.qdebug.engine;

import dev.qdebug.onnx.OnnxNode;

/** Builds the {@link Op} for one node at the model's opset version. */
@FunctionalInterface
public interface OpFactory {
  Op create(OnnxNode node, int opset);
}
