/**
 * The execution engine: a model is compiled once into a {@link dev.qdebug.engine.Plan} (ops
 * resolved by op type and opset, constant subgraphs folded, tensor lifetimes known), then run by a
 * {@link dev.qdebug.engine.Session} on ND4J arrays. A {@link dev.qdebug.engine.TensorHook} sees
 * every tensor as it is produced and may replace it: fake quantization and tensor capture plug in
 * there. Ops live in {@code engine.ops}, one class per op (families share a base). Imports {@code
 * onnx} and ND4J; nothing above it.
 *
 * <p>Memory: each session runs in an ND4J workspace of its own, reused run after run; what must
 * outlive a run (returned values, caches, tensors a hook keeps) lives outside it. The rule and its
 * helpers: {@link dev.qdebug.engine.Workspaces}.
 */
package dev.qdebug.engine;
