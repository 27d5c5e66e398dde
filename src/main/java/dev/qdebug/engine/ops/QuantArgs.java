package dev.qdebug.engine.ops;

import dev.qdebug.ModelException;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What QuantizeLinear and DequantizeLinear share: the integer types qdebug quantizes to, their
 * ranges, the scale / zero point layout (per tensor or per axis), and the refusal of what is out
 * of scope (blocked quantization, float8 / 4-bit / 2-bit types).
 */
final class QuantArgs {
  private QuantArgs() {}

  /** Whether qdebug quantizes to {@code t}: int8, uint8, int16, uint16. */
  static boolean quantType(DataType t) {
    return t == DataType.BYTE || t == DataType.UBYTE || t == DataType.SHORT || t == DataType.UINT16;
  }

  static double qmin(DataType t) {
    return switch (t) {
      case BYTE -> -128;
      case SHORT -> -32768;
      default -> 0;
    };
  }

  static double qmax(DataType t) {
    return switch (t) {
      case BYTE -> 127;
      case UBYTE -> 255;
      case SHORT -> 32767;
      case UINT16 -> 65535;
      default -> throw new IllegalArgumentException("not a quantized type: " + t);
    };
  }

  /** The ONNX name of {@code t}, for messages. */
  static String onnxName(DataType t) {
    try {
      return Tensors.elemType(t).name();
    } catch (IllegalArgumentException e) {
      return t.name();
    }
  }

  /** Refuses {@code block_size} &gt; 0 (blocked quantization is out of qdebug's scope). */
  static void rejectBlocked(OnnxNode node) {
    long b = node.attrInt("block_size", 0);
    if (b != 0) {
      throw node.error("blocked quantization (block_size=" + b + ") is not supported");
    }
  }

  /**
   * The ND4J type of the element-type attribute {@code attr} (0 or absent: null), which must be
   * one of {@code allowed}.
   */
  static DataType typeAttr(OnnxNode node, String attr, String what, DataType... allowed) {
    long code = node.attrInt(attr, 0);
    if (code == 0) {
      return null;
    }
    String name = "code " + code;
    DataType t = null;
    try {
      ElemType e = ElemType.of((int) code);
      name = e.name();
      t = Tensors.dtype(e);
    } catch (ModelException e) {
      // unknown code, or a type the engine cannot hold: refused below
    }
    if (t == null || !Arrays.asList(allowed).contains(t)) {
      throw node.error(what + " element type " + name + " (attribute '" + attr + "') is not supported");
    }
    return t;
  }

  /**
   * The scale and zero point of a node, laid out to broadcast against x: either per tensor (one
   * value each, applied as scalar ops) or per axis (arrays [C, 1, ..., 1] in the compute type).
   *
   * @param scale the scale, already in the compute type
   * @param zeroPoint the zero point in the compute type (or the integer type for int32 DQ), null
   *     when absent or all zero
   */
  record Layout(boolean perTensor, double scale, double zeroPoint, INDArray scaleArray, INDArray zeroPointArray) {}

  /**
   * Lays out {@code scale} and {@code zeroPoint} (may be null) for an input of shape {@code
   * shape}: per tensor when both have one element, else per axis along {@code axis}.
   */
  static Layout layout(
      OnnxNode node, INDArray scale, INDArray zeroPoint, long[] shape, long axis, DataType compute, DataType zpCompute) {
    if (zeroPoint != null && zeroPoint.length() != scale.length()) {
      throw node.error(
          "zero point shape " + Arrays.toString(zeroPoint.shape()) + " differs from scale shape "
              + Arrays.toString(scale.shape()));
    }
    boolean zpZero = zeroPoint == null || allZero(zeroPoint);
    if (scale.length() == 1) {
      double s = scale.getDouble(0);
      double z = zpZero ? 0 : zeroPoint.getDouble(0);
      return new Layout(true, s, z, null, null);
    }
    if (scale.rank() != 1) {
      throw node.error(
          "scale of shape " + Arrays.toString(scale.shape())
              + " means blocked quantization, which is not supported (per-tensor and per-axis are)");
    }
    int rank = shape.length;
    long a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
      throw node.error("axis " + axis + " is out of range for rank " + rank);
    }
    if (shape[(int) a] != scale.length()) {
      throw node.error(
          "per-axis scale has " + scale.length() + " values but axis " + axis + " of input shape "
              + Arrays.toString(shape) + " has " + shape[(int) a]);
    }
    INDArray s = Broadcast.alongAxis(cast(scale, compute), rank, (int) a);
    INDArray z = zpZero ? null : Broadcast.alongAxis(cast(zeroPoint, zpCompute), rank, (int) a);
    return new Layout(false, 0, 0, s, z);
  }

  private static INDArray cast(INDArray a, DataType t) {
    return a.dataType() == t ? a : a.castTo(t);
  }

  private static boolean allZero(INDArray zp) {
    for (long i = 0; i < zp.length(); i++) {
      if (zp.getDouble(i) != 0) {
        return false;
      }
    }
    return true;
  }
}
