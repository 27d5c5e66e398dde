/**
 * ONNX files: our own protobuf schema ({@code src/main/proto/qdebug_onnx.proto}, field numbers as
 * in the ONNX specification), loading with external data confined to the model's folder, atomic
 * saving, and a read-only graph view ({@link dev.qdebug.onnx.OnnxModel}, {@link
 * dev.qdebug.onnx.OnnxNode}). Imports nothing of qdebug but its exceptions, and no ND4J.
 */
package dev.qdebug.onnx;
