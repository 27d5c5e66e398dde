/**
 * qdebug: finds out why a quantized neural network lost accuracy, and fixes it.
 *
 * <p>Data flows one way: {@code onnx} (model files) → {@code engine} (execution over ND4J, with
 * hooks at any tensor) → {@code quant} (calibration, fake quantization) → {@code metrics} →
 * {@code debug} (the analyses) → {@code viz}; {@code cli} and {@code notebook} sit on top. The
 * exceptions in this package are the only types every layer shares.
 */
package dev.qdebug;
