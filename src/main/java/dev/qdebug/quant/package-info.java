/**
 * Quantization: types and parameters ({@link dev.qdebug.quant.QType}, {@link
 * dev.qdebug.quant.QParams}), the fake-quantization kernel that is bit-exact with ONNX Runtime's
 * QuantizeLinear→DequantizeLinear ({@link dev.qdebug.quant.FakeQuant}), observers and calibrators
 * (one {@link dev.qdebug.quant.Observer} family, one shared range→parameters rule), calibration
 * nodes with on/off switches, and the QDQ and Horizon file formats. Imports {@code onnx}, {@code
 * engine}, {@code data} and ND4J.
 */
package dev.qdebug.quant;
