package dev.qdebug.engine;

import com.google.protobuf.ByteString;
import dev.qdebug.ModelException;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Conversions between ONNX tensors and ND4J arrays, between their element types, and from arrays to
 * Java values.
 */
public final class Tensors {
  private Tensors() {}

  /**
   * {@code x} itself when its values lie in c order at the start of its buffer, else a c-ordered
   * copy.
   */
  public static INDArray dense(INDArray x) {
    boolean contiguous =
        x.ordering() == 'c'
            && x.offset() == 0
            && x.data().offset() == 0
            && x.data().length() >= x.length()
            && org.nd4j.linalg.api.shape.Shape.hasDefaultStridesForShape(x);
    return contiguous ? x : x.dup('c');
  }

  /**
   * Whether {@code a} and {@code b} may share memory: their data buffers' native ranges overlap
   * (views of one array do; a buffer's whole range is compared, so a view of another part of the
   * same array counts too). False when either is null or holds no values.
   */
  public static boolean overlap(INDArray a, INDArray b) {
    if (a == null || b == null || a.isEmpty() || b.isEmpty()) {
      return false;
    }
    if (a.data() == b.data()) {
      return true;
    }
    long a0 = a.data().address();
    long b0 = b.data().address();
    long a1 = a0 + a.data().length() * a.data().getElementSize();
    long b1 = b0 + b.data().length() * b.data().getElementSize();
    return a0 < b1 && b0 < a1;
  }

  /**
   * Every value of {@code x} in c order as Java floats: one copy, read straight from x's memory when
   * it is {@link #dense}. No ND4J array is allocated then, which matters inside a run (a hook): it
   * would land in the session's workspace, which keeps every allocation until the run ends.
   */
  public static float[] floats(INDArray x) {
    if (x.dataType() != DataType.FLOAT) {
      return x.dup('c').data().asFloat();
    }
    float[] v = new float[(int) x.length()];
    dense(x).data().asNioFloat().get(0, v);
    return v;
  }

  /** The ND4J type that holds ONNX {@code type}. */
  public static DataType dtype(ElemType type) {
    return switch (type) {
      case FLOAT -> DataType.FLOAT;
      case DOUBLE -> DataType.DOUBLE;
      case FLOAT16 -> DataType.HALF;
      case BFLOAT16 -> DataType.BFLOAT16;
      case INT8 -> DataType.BYTE;
      case UINT8 -> DataType.UBYTE;
      case INT16 -> DataType.SHORT;
      case UINT16 -> DataType.UINT16;
      case INT32 -> DataType.INT;
      case UINT32 -> DataType.UINT32;
      case INT64 -> DataType.LONG;
      case UINT64 -> DataType.UINT64;
      case BOOL -> DataType.BOOL;
      default -> throw new ModelException("element type " + type + " is not supported");
    };
  }

  /** The ONNX type of an ND4J array type. */
  public static ElemType elemType(DataType type) {
    return switch (type) {
      case FLOAT -> ElemType.FLOAT;
      case DOUBLE -> ElemType.DOUBLE;
      case HALF -> ElemType.FLOAT16;
      case BFLOAT16 -> ElemType.BFLOAT16;
      case BYTE -> ElemType.INT8;
      case UBYTE -> ElemType.UINT8;
      case SHORT -> ElemType.INT16;
      case UINT16 -> ElemType.UINT16;
      case INT -> ElemType.INT32;
      case UINT32 -> ElemType.UINT32;
      case LONG -> ElemType.INT64;
      case UINT64 -> ElemType.UINT64;
      case BOOL -> ElemType.BOOL;
      default -> throw new IllegalArgumentException("no ONNX type for ND4J " + type);
    };
  }

  /**
   * The values of an ONNX tensor as an ND4J array (c order).
   *
   * @throws ModelException naming the tensor for unsupported types or a payload that does not
   *     match the dims
   */
  public static INDArray fromProto(TensorProto t) {
    ElemType type = ElemType.of(t.getDataType());
    long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    String what = "tensor '" + t.getName() + "'";
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      throw new ModelException(what + ": external data was not loaded");
    }
    DataType dt;
    try {
      dt = dtype(type);
    } catch (ModelException e) {
      throw new ModelException(what + ": element type " + type + " is not supported");
    }
    if (n == 0) {
      return Nd4j.create(dt, dims);
    }
    if (n > Integer.MAX_VALUE) {
      throw new ModelException(what + ": too many elements (" + n + ")");
    }
    int count = (int) n;
    INDArray flat;
    if (!t.getRawData().isEmpty()) {
      flat = fromRaw(t.getRawData(), type, count, what);
    } else {
      flat = fromTyped(t, type, count, what);
    }
    return shape(flat, dims);
  }

  private static INDArray shape(INDArray flat, long[] dims) {
    if (dims.length == 0) {
      return flat.reshape(new long[0]);
    }
    return flat.reshape('c', dims);
  }

  private static INDArray fromRaw(ByteString raw, ElemType type, int n, String what) {
    if ((long) raw.size() != (long) n * type.bytes()) {
      throw new ModelException(
          what
              + ": raw_data has "
              + raw.size()
              + " bytes, expected "
              + (long) n * type.bytes()
              + " for "
              + n
              + " "
              + type
              + " values");
    }
    ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    switch (type) {
      case FLOAT -> {
        float[] v = new float[n];
        b.asFloatBuffer().get(v);
        return Nd4j.createFromArray(v);
      }
      case DOUBLE -> {
        double[] v = new double[n];
        b.asDoubleBuffer().get(v);
        return Nd4j.createFromArray(v);
      }
      case INT64, UINT64 -> {
        long[] v = new long[n];
        b.asLongBuffer().get(v);
        return cast(Nd4j.createFromArray(v), dtype(type));
      }
      case INT32 -> {
        int[] v = new int[n];
        b.asIntBuffer().get(v);
        return Nd4j.createFromArray(v);
      }
      case UINT32 -> {
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
          v[i] = Integer.toUnsignedLong(b.getInt());
        }
        return cast(Nd4j.createFromArray(v), DataType.UINT32);
      }
      case INT16 -> {
        short[] v = new short[n];
        b.asShortBuffer().get(v);
        return Nd4j.createFromArray(v);
      }
      case UINT16 -> {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
          v[i] = Short.toUnsignedInt(b.getShort());
        }
        return cast(Nd4j.createFromArray(v), DataType.UINT16);
      }
      case FLOAT16 -> {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
          v[i] = halfToFloat(b.getShort());
        }
        return cast(Nd4j.createFromArray(v), DataType.HALF);
      }
      case BFLOAT16 -> {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
          v[i] = Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
        }
        return cast(Nd4j.createFromArray(v), DataType.BFLOAT16);
      }
      case INT8 -> {
        byte[] v = new byte[n];
        b.get(v);
        return Nd4j.createFromArray(v);
      }
      case UINT8 -> {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
          v[i] = b.get() & 0xff;
        }
        return cast(Nd4j.createFromArray(v), DataType.UBYTE);
      }
      case BOOL -> {
        boolean[] v = new boolean[n];
        for (int i = 0; i < n; i++) {
          v[i] = b.get() != 0;
        }
        return Nd4j.createFromArray(v);
      }
      default -> throw new ModelException(what + ": element type " + type + " is not supported");
    }
  }

  private static INDArray fromTyped(TensorProto t, ElemType type, int n, String what) {
    int have =
        switch (type) {
          case FLOAT -> t.getFloatDataCount();
          case DOUBLE -> t.getDoubleDataCount();
          case INT64 -> t.getInt64DataCount();
          case UINT32, UINT64 -> t.getUint64DataCount();
          default -> t.getInt32DataCount();
        };
    if (have != n) {
      throw new ModelException(
          what + ": holds " + have + " values, expected " + n + " for dims " + t.getDimsList());
    }
    switch (type) {
      case FLOAT -> {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getFloatData(i);
        }
        return Nd4j.createFromArray(v);
      }
      case DOUBLE -> {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getDoubleData(i);
        }
        return Nd4j.createFromArray(v);
      }
      case INT64 -> {
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getInt64Data(i);
        }
        return Nd4j.createFromArray(v);
      }
      case UINT32, UINT64 -> {
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getUint64Data(i);
        }
        return cast(Nd4j.createFromArray(v), dtype(type));
      }
      case FLOAT16, BFLOAT16 -> {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
          int bits = t.getInt32Data(i) & 0xffff;
          v[i] =
              type == ElemType.FLOAT16
                  ? halfToFloat((short) bits)
                  : Float.intBitsToFloat(bits << 16);
        }
        return cast(Nd4j.createFromArray(v), dtype(type));
      }
      case BOOL -> {
        boolean[] v = new boolean[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getInt32Data(i) != 0;
        }
        return Nd4j.createFromArray(v);
      }
      default -> {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
          v[i] = t.getInt32Data(i);
        }
        return cast(Nd4j.createFromArray(v), dtype(type));
      }
    }
  }

  private static INDArray cast(INDArray a, DataType to) {
    return a.dataType() == to ? a : a.castTo(to);
  }

  /** An ONNX tensor named {@code name} holding {@code a}'s values (raw_data, little-endian). */
  public static TensorProto toProto(String name, INDArray a) {
    ElemType type = elemType(a.dataType());
    INDArray c = a.dup('c');
    int n = (int) c.length();
    ByteBuffer b = ByteBuffer.allocate(n * Math.max(type.bytes(), 1)).order(ByteOrder.LITTLE_ENDIAN);
    switch (type) {
      case FLOAT -> b.asFloatBuffer().put(c.data().asFloat());
      case DOUBLE -> b.asDoubleBuffer().put(c.data().asDouble());
      case INT64, UINT64, UINT32, INT32, INT16, UINT16, INT8, UINT8, BOOL -> {
        long[] v = c.data().asLong();
        for (long x : v) {
          switch (type.bytes()) {
            case 8 -> b.putLong(x);
            case 4 -> b.putInt((int) x);
            case 2 -> b.putShort((short) x);
            default -> b.put((byte) x);
          }
        }
        b.flip();
      }
      case FLOAT16 -> {
        for (float x : c.data().asFloat()) {
          b.putShort(floatToHalf(x));
        }
        b.flip();
      }
      case BFLOAT16 -> {
        for (float x : c.data().asFloat()) {
          b.putShort((short) (Float.floatToIntBits(x) >>> 16));
        }
        b.flip();
      }
      default -> throw new IllegalArgumentException("cannot write " + type);
    }
    b.rewind();
    TensorProto.Builder t =
        TensorProto.newBuilder().setName(name).setDataType(type.code()).setRawData(ByteString.copyFrom(b));
    for (long d : a.shape()) {
      t.addDims(d);
    }
    return t.build();
  }

  /** Shape as a readable string, e.g. {@code [1, 3, 224, 224]}. */
  public static String shapeString(INDArray a) {
    return Arrays.toString(a.shape());
  }

  /** IEEE 754 binary16 bits to float. */
  public static float halfToFloat(short bits) {
    int h = bits & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1f;
    int mant = h & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      float v = mant * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /** Float to IEEE 754 binary16 bits, rounding to nearest even. */
  public static short floatToHalf(float f) {
    int bits = Float.floatToIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int exp = (bits >>> 23) & 0xff;
    int mant = bits & 0x7fffff;
    if (exp == 0xff) {
      return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 : 0));
    }
    int e = exp - 127 + 15;
    if (e >= 0x1f) {
      return (short) (sign | 0x7c00);
    }
    if (e <= 0) {
      if (e < -10) {
        return (short) sign;
      }
      mant |= 0x800000;
      int shift = 14 - e;
      int half = mant >>> shift;
      int rem = mant & ((1 << shift) - 1);
      int mid = 1 << (shift - 1);
      if (rem > mid || (rem == mid && (half & 1) != 0)) {
        half++;
      }
      return (short) (sign | half);
    }
    int half = (e << 10) | (mant >>> 13);
    int rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) {
      half++;
    }
    return (short) (sign | half);
  }
}
