package dev.qdebug.onnx;

import dev.qdebug.ModelException;

/** ONNX tensor element types, with the specification's numeric codes. */
public enum ElemType {
  UNDEFINED(0, 0),
  FLOAT(1, 4),
  UINT8(2, 1),
  INT8(3, 1),
  UINT16(4, 2),
  INT16(5, 2),
  INT32(6, 4),
  INT64(7, 8),
  STRING(8, 0),
  BOOL(9, 1),
  FLOAT16(10, 2),
  DOUBLE(11, 8),
  UINT32(12, 4),
  UINT64(13, 8),
  COMPLEX64(14, 8),
  COMPLEX128(15, 16),
  BFLOAT16(16, 2),
  FLOAT8E4M3FN(17, 1),
  FLOAT8E4M3FNUZ(18, 1),
  FLOAT8E5M2(19, 1),
  FLOAT8E5M2FNUZ(20, 1),
  UINT4(21, 0),
  INT4(22, 0),
  FLOAT4E2M1(23, 0),
  FLOAT8E8M0(24, 1),
  UINT2(25, 0),
  INT2(26, 0);

  private final int code;
  private final int bytes;

  ElemType(int code, int bytes) {
    this.code = code;
    this.bytes = bytes;
  }

  /** The ONNX {@code TensorProto.DataType} number. */
  public int code() {
    return code;
  }

  /** Bytes per element in {@code raw_data}; 0 for packed sub-byte types and strings. */
  public int bytes() {
    return bytes;
  }

  /** The type with ONNX code {@code code}. */
  public static ElemType of(int code) {
    for (ElemType t : values()) {
      if (t.code == code) {
        return t;
      }
    }
    throw new ModelException("unknown ONNX element type code " + code);
  }
}
