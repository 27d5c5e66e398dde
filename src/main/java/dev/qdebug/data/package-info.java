/**
 * Data on disk: NumPy {@code .npy} tensors ({@link dev.qdebug.data.Npy}), calibration folders in
 * Horizon's layout ({@code DIR/<input>/<i>.npy}) and labeled datasets. Every error names the file
 * and, for sample sets, the sample index. Imports {@code onnx} (input declarations) and ND4J.
 */
package dev.qdebug.data;
