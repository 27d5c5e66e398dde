package dev.qdebug.engine.ops;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The values of an array in c order as a Java primitive array, for the data-movement ops, which
 * copy elements by computed index. Every ND4J type maps exactly onto one of three kinds: {@code
 * float[]} (FLOAT, HALF, BFLOAT16), {@code double[]} (DOUBLE) or {@code long[]} (every integer type
 * and BOOL); {@link #toArray()} gives back an array of the original type.
 */
final class FlatData {
  enum Kind {
    F,
    D,
    L
  }

  final DataType type;
  final long[] shape;
  final Kind kind;

  /** {@code float[]}, {@code double[]} or {@code long[]} by {@link #kind}. */
  final Object data;

  final int length;

  private FlatData(DataType type, long[] shape, Kind kind, Object data) {
    this.type = type;
    this.shape = shape;
    this.kind = kind;
    this.data = data;
    this.length = java.lang.reflect.Array.getLength(data);
  }

  static Kind kindOf(DataType t) {
    return switch (t) {
      case FLOAT, HALF, BFLOAT16 -> Kind.F;
      case DOUBLE -> Kind.D;
      default -> Kind.L;
    };
  }

  private static DataType workType(Kind k) {
    return switch (k) {
      case F -> DataType.FLOAT;
      case D -> DataType.DOUBLE;
      case L -> DataType.LONG;
    };
  }

  /** The values of {@code x} (never modifies or aliases it). */
  static FlatData of(INDArray x) {
    DataType type = x.dataType();
    Kind kind = kindOf(type);
    long[] shape = x.shape();
    long n = x.length();
    if (n > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("array of " + n + " elements is too large");
    }
    int len = (int) n;
    if (len == 0) {
      return new FlatData(type, shape, kind, allocate(kind, 0));
    }
    INDArray w = x;
    DataType wt = workType(kind);
    if (w.dataType() != wt) {
      w = w.castTo(wt);
    }
    if (!isPlain(w)) {
      w = w.dup('c');
    }
    Object data;
    switch (kind) {
      case F -> {
        float[] v = new float[len];
        FloatBuffer b = w.data().asNioFloat();
        b.get(v);
        data = v;
      }
      case D -> {
        double[] v = new double[len];
        DoubleBuffer b = w.data().asNioDouble();
        b.get(v);
        data = v;
      }
      default -> {
        long[] v = new long[len];
        LongBuffer b = w.data().asNioLong();
        b.get(v);
        data = v;
      }
    }
    return new FlatData(type, shape, kind, data);
  }

  /**
   * Copies ranges of {@code x}'s elements (c order) into arrays of {@code x}'s kind, reading the
   * native buffer directly where {@code x} is plain, so that a few rows of a large constant (an
   * embedding table) cost only those rows.
   */
  interface Source {
    void copy(int from, Object dst, int at, int len);
  }

  static Source source(INDArray x) {
    Kind kind = kindOf(x.dataType());
    if (x.dataType() == workType(kind) && x.length() > 0 && isPlain(x)) {
      return switch (kind) {
        case F -> {
          FloatBuffer b = x.data().asNioFloat();
          yield (from, dst, at, len) -> b.get(from, (float[]) dst, at, len);
        }
        case D -> {
          DoubleBuffer b = x.data().asNioDouble();
          yield (from, dst, at, len) -> b.get(from, (double[]) dst, at, len);
        }
        case L -> {
          LongBuffer b = x.data().asNioLong();
          yield (from, dst, at, len) -> b.get(from, (long[]) dst, at, len);
        }
      };
    }
    FlatData f = of(x);
    return (from, dst, at, len) -> System.arraycopy(f.data, from, dst, at, len);
  }

  /** Whether {@code x}'s buffer holds exactly its elements in c order from position 0. */
  static boolean isPlain(INDArray x) {
    return x.offset() == 0
        && x.data().originalOffset() == 0
        && x.data().length() == x.length()
        && (x.rank() <= 1 ? x.rank() == 0 || x.stride(0) == 1 : x.ordering() == 'c')
        && Shape.hasDefaultStridesForShape(x);
  }

  /** A zero-filled buffer of {@code type} with {@code shape}. */
  static FlatData zeros(DataType type, long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    if (n > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException(
          "result of shape " + Arrays.toString(shape) + " is too large");
    }
    Kind kind = kindOf(type);
    return new FlatData(type, shape.clone(), kind, allocate(kind, (int) n));
  }

  /** A buffer of {@code type} and {@code shape} holding {@code data} (used as is). */
  static FlatData wrap(DataType type, long[] shape, Object data) {
    return new FlatData(type, shape.clone(), kindOf(type), data);
  }

  /** The same values with another shape of the same length. */
  FlatData withShape(long[] newShape) {
    return new FlatData(type, newShape.clone(), kind, data);
  }

  private static Object allocate(Kind k, int n) {
    return switch (k) {
      case F -> new float[n];
      case D -> new double[n];
      case L -> new long[n];
    };
  }

  /** A new ND4J array of the original type. */
  INDArray toArray() {
    if (length == 0) {
      return Nd4j.create(type, shape);
    }
    DataType wt = workType(kind);
    INDArray a = Nd4j.createUninitialized(wt, shape, 'c');
    switch (kind) {
      case F -> a.data().asNioFloat().put((float[]) data);
      case D -> a.data().asNioDouble().put((double[]) data);
      case L -> a.data().asNioLong().put((long[]) data);
    }
    return wt == type ? a : a.castTo(type);
  }

  /** Element {@code i} as a double. */
  double getDouble(int i) {
    return switch (kind) {
      case F -> ((float[]) data)[i];
      case D -> ((double[]) data)[i];
      case L -> ((long[]) data)[i];
    };
  }

  /** Element {@code i} as a long (floating values are truncated). */
  long getLong(int i) {
    return switch (kind) {
      case F -> (long) ((float[]) data)[i];
      case D -> (long) ((double[]) data)[i];
      case L -> ((long[]) data)[i];
    };
  }

  /** Every element as a long (floating values truncated). */
  long[] longs() {
    if (kind == Kind.L) {
      return (long[]) data;
    }
    long[] v = new long[length];
    for (int i = 0; i < length; i++) {
      v[i] = getLong(i);
    }
    return v;
  }

  /** Every element as a double. */
  double[] doubles() {
    if (kind == Kind.D) {
      return (double[]) data;
    }
    double[] v = new double[length];
    for (int i = 0; i < length; i++) {
      v[i] = getDouble(i);
    }
    return v;
  }

  /** Sets every element to {@code fill} (a value of this buffer's kind, see {@link Fill}). */
  void fill(Fill fill) {
    switch (kind) {
      case F -> Arrays.fill((float[]) data, (float) fill.d);
      case D -> Arrays.fill((double[]) data, fill.d);
      case L -> Arrays.fill((long[]) data, fill.l);
    }
  }

  /** A fill value held both ways, so that int64 values stay exact. */
  record Fill(double d, long l) {
    static final Fill ZERO = new Fill(0, 0);

    /** The first element of {@code a}, or zero when {@code a} is null or empty. */
    static Fill of(INDArray a) {
      if (a == null || a.length() == 0) {
        return ZERO;
      }
      FlatData f = FlatData.of(a);
      return new Fill(f.getDouble(0), f.getLong(0));
    }

    static Fill of(double v) {
      return new Fill(v, (long) v);
    }
  }

  /** Row-major strides, in elements, of {@code shape}. */
  static long[] strides(long[] shape) {
    long[] s = new long[shape.length];
    long acc = 1;
    for (int d = shape.length - 1; d >= 0; d--) {
      s[d] = acc;
      acc *= shape[d];
    }
    return s;
  }

  /**
   * The general copy kernel: {@code out[i_0, ..., i_{r-1}] = src[sum_d off[d][i_d]]}, or {@code
   * fill} where any {@code off[d][i_d]} is negative. {@code off[d]} has {@code outShape[d]}
   * entries, each an element offset into {@code src} (index times stride).
   */
  static FlatData gather(FlatData src, long[] outShape, int[][] off, Fill fill) {
    FlatData out = zeros(src.type, outShape);
    int n = out.length;
    if (n == 0) {
      return out;
    }
    int r = outShape.length;
    if (r == 0) {
      copyOne(src, 0, out, 0);
      return out;
    }
    int inner = (int) outShape[r - 1];
    int[] last = off[r - 1];
    boolean contiguous = last[0] >= 0;
    for (int j = 1; j < inner && contiguous; j++) {
      contiguous = last[j] == last[0] + j;
    }
    int[] idx = new int[Math.max(r - 1, 0)];
    int prevBase = -1;
    for (int pos = 0; pos < n; pos += inner) {
      int base = 0;
      boolean outside = false;
      for (int d = 0; d < r - 1; d++) {
        int o = off[d][idx[d]];
        if (o < 0) {
          outside = true;
        }
        base += o;
      }
      if (outside) {
        fillRange(out, pos, inner, fill);
        base = -1;
      } else if (base == prevBase && !contiguous) {
        // the same source row again (nearest upsampling, broadcasting): copy the row just built
        System.arraycopy(out.data, pos - inner, out.data, pos, inner);
      } else if (contiguous) {
        System.arraycopy(src.data, base + last[0], out.data, pos, inner);
      } else {
        copyRow(src, base, last, out, pos, inner, fill);
      }
      prevBase = base;
      for (int d = r - 2; d >= 0; d--) {
        if (++idx[d] < outShape[d]) {
          break;
        }
        idx[d] = 0;
      }
    }
    return out;
  }

  /**
   * {@link #gather(FlatData, long[], int[][], Fill)} straight from {@code x}: where the last axis
   * is copied in contiguous runs, only the rows needed are read from {@code x}'s buffer (a small
   * slice of a large tensor costs the slice only).
   */
  static FlatData gather(INDArray x, long[] outShape, int[][] off, Fill fill) {
    int r = outShape.length;
    long n = 1;
    for (long d : outShape) {
      n *= d;
    }
    boolean rows = r > 0 && n > 0 && n * 2 < x.length();
    if (rows) {
      int[] last = off[r - 1];
      for (int j = 0; j < last.length && rows; j++) {
        rows = last[j] == last[0] + j && last[0] >= 0;
      }
      for (int d = 0; d < r - 1 && rows; d++) {
        for (int o : off[d]) {
          rows &= o >= 0;
        }
      }
    }
    if (!rows) {
      return gather(of(x), outShape, off, fill);
    }
    FlatData out = zeros(x.dataType(), outShape);
    Source src = source(x);
    int inner = (int) outShape[r - 1];
    int first = off[r - 1][0];
    int[] idx = new int[r - 1];
    for (int pos = 0; pos < out.length; pos += inner) {
      int base = first;
      for (int d = 0; d < r - 1; d++) {
        base += off[d][idx[d]];
      }
      src.copy(base, out.data, pos, inner);
      for (int d = r - 2; d >= 0; d--) {
        if (++idx[d] < outShape[d]) {
          break;
        }
        idx[d] = 0;
      }
    }
    return out;
  }

  private static void copyOne(FlatData src, int s, FlatData out, int o) {
    System.arraycopy(src.data, s, out.data, o, 1);
  }

  private static void fillRange(FlatData out, int pos, int len, Fill fill) {
    switch (out.kind) {
      case F -> Arrays.fill((float[]) out.data, pos, pos + len, (float) fill.d);
      case D -> Arrays.fill((double[]) out.data, pos, pos + len, fill.d);
      case L -> Arrays.fill((long[]) out.data, pos, pos + len, fill.l);
    }
  }

  private static void copyRow(
      FlatData src, int base, int[] last, FlatData out, int pos, int len, Fill fill) {
    switch (src.kind) {
      case F -> {
        float[] s = (float[]) src.data;
        float[] o = (float[]) out.data;
        float f = (float) fill.d;
        for (int j = 0; j < len; j++) {
          int k = last[j];
          o[pos + j] = k < 0 ? f : s[base + k];
        }
      }
      case D -> {
        double[] s = (double[]) src.data;
        double[] o = (double[]) out.data;
        for (int j = 0; j < len; j++) {
          int k = last[j];
          o[pos + j] = k < 0 ? fill.d : s[base + k];
        }
      }
      case L -> {
        long[] s = (long[]) src.data;
        long[] o = (long[]) out.data;
        for (int j = 0; j < len; j++) {
          int k = last[j];
          o[pos + j] = k < 0 ? fill.l : s[base + k];
        }
      }
    }
  }

  /** Offsets {@code (start + i * step) * stride} for {@code i < count}. */
  static int[] offsets(long start, long step, long count, long stride) {
    int[] o = new int[(int) count];
    for (int i = 0; i < count; i++) {
      o[i] = (int) ((start + i * step) * stride);
    }
    return o;
  }
}
