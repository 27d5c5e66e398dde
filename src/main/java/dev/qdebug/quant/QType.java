package dev.qdebug.quant;

import dev.qdebug.UsageException;
import dev.qdebug.onnx.ElemType;
import java.util.Arrays;
import java.util.Locale;

/** Integer types a tensor can be quantized to, with their ranges and ONNX element types. */
public enum QType {
  INT4(-8, 7, ElemType.INT4),
  UINT4(0, 15, ElemType.UINT4),
  INT8(-128, 127, ElemType.INT8),
  UINT8(0, 255, ElemType.UINT8),
  INT16(-32768, 32767, ElemType.INT16),
  UINT16(0, 65535, ElemType.UINT16);

  private final int qmin;
  private final int qmax;
  private final ElemType onnx;

  QType(int qmin, int qmax, ElemType onnx) {
    this.qmin = qmin;
    this.qmax = qmax;
    this.onnx = onnx;
  }

  public int qmin() {
    return qmin;
  }

  public int qmax() {
    return qmax;
  }

  public boolean signed() {
    return qmin < 0;
  }

  public int bits() {
    return switch (this) {
      case INT4, UINT4 -> 4;
      case INT8, UINT8 -> 8;
      case INT16, UINT16 -> 16;
    };
  }

  /** The ONNX element type of QuantizeLinear's output. */
  public ElemType onnxType() {
    return onnx;
  }

  /** Lower-case name as Horizon and the CLI write it: {@code int8}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The signed type of {@code bits} bits (4, 8 or 16). */
  public static QType signedOfBits(int bits) {
    return switch (bits) {
      case 4 -> INT4;
      case 8 -> INT8;
      case 16 -> INT16;
      default -> throw new UsageException("unsupported bit width " + bits + "; expected 4, 8 or 16");
    };
  }

  /** Parses {@code int8}, {@code uint8}, ... (any case). */
  public static QType parse(String s) {
    for (QType t : values()) {
      if (t.label().equalsIgnoreCase(s.strip())) {
        return t;
      }
    }
    throw new UsageException(
        "unknown quantized type '" + s + "'; expected one of " + Arrays.toString(labels()));
  }

  /** The type QuantizeLinear produces for ONNX element type {@code t}. */
  public static QType of(ElemType t) {
    for (QType q : values()) {
      if (q.onnx == t) {
        return q;
      }
    }
    throw new IllegalArgumentException("no quantized type for " + t);
  }

  private static String[] labels() {
    return Arrays.stream(values()).map(QType::label).toArray(String[]::new);
  }
}
