/**
 * The ops, one class per ONNX op type named exactly as the op (families of near-identical ops,
 * such as the unary math functions, share one class with a lambda table). Each family file has a
 * {@code register(OpRegistry)} method with one line per op; {@link
 * dev.qdebug.engine.ops.StandardOps} calls them all.
 */
package dev.qdebug.engine.ops;
