package dev.qdebug.data;

import dev.qdebug.DataException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * NumPy {@code .npy} files (format versions 1 to 3): little- or big-endian float16/32/64,
 * int8/16/32/64, uint8/16/32, bool; C or Fortran order. Written files are little-endian, C order,
 * version 1, written atomically.
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  private Npy() {}

  /**
   * Reads one array.
   *
   * @throws DataException naming the file when it is missing, truncated, or of an unsupported type
   */
  public static INDArray read(Path file) {
    byte[] bytes;
    try {
      if (Files.exists(file) && !Files.isRegularFile(file)) {
        throw new DataException(
            file + ": not a regular file (" + (Files.isDirectory(file) ? "a folder" : "a device or pipe")
                + ")");
      }
      if (Files.isRegularFile(file) && Files.size(file) > Integer.MAX_VALUE - 8) {
        throw new DataException(
            file + ": " + Files.size(file) + " bytes; a .npy sample must be under 2 GiB");
      }
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new DataException(file + ": no such file");
    } catch (IOException e) {
      throw new DataException(file + ": cannot read: " + ioReason(e), e);
    }
    return parse(bytes, file.toString());
  }

  /**
   * The shape of the array in {@code file}, read from its header alone; a file whose header does
   * not parse is read whole, so the error is {@link #read}'s.
   */
  public static long[] readShape(Path file) {
    try (java.io.InputStream in = Files.newInputStream(file)) {
      byte[] head = in.readNBytes(12);
      if (head.length >= 10 && head[0] == MAGIC[0] && head[6] == 1) {
        int len = Short.toUnsignedInt(ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getShort(8));
        byte[] rest = in.readNBytes(len - 2);
        String header =
            new String(head, 10, 2, StandardCharsets.ISO_8859_1)
                + new String(rest, StandardCharsets.ISO_8859_1);
        java.util.regex.Matcher m = SHAPE.matcher(header);
        if (m.find() && rest.length == len - 2) {
          return parseShape(m.group(1), file.toString());
        }
      }
    } catch (IOException | RuntimeException e) {
      // fall through: the full read reports the problem
    }
    return read(file).shape();
  }

  /**
   * Parses the bytes of a .npy file; {@code source} names it in errors. Everything is checked
   * before anything is allocated: the magic, the version, the header length (within the file), the
   * element type, the dimensions (none negative) and the data length (exactly the shape's element
   * count times the element size, computed without overflow).
   */
  public static INDArray parse(byte[] bytes, String source) {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < MAGIC.length; i++) {
      if (bytes.length <= i || bytes[i] != MAGIC[i]) {
        throw new DataException(source + ": not a NumPy .npy file (bad magic)");
      }
    }
    if (bytes.length < 10) {
      throw new DataException(source + ": truncated .npy header");
    }
    int major = bytes[6];
    int minor = bytes[7];
    long headerLen;
    int start;
    if (major == 1) {
      headerLen = Short.toUnsignedInt(b.getShort(8));
      start = 10;
    } else if (major == 2 || major == 3) {
      if (bytes.length < 12) {
        throw new DataException(source + ": truncated .npy header");
      }
      headerLen = Integer.toUnsignedLong(b.getInt(8));
      start = 12;
    } else {
      throw new DataException(
          source + ": unsupported .npy version " + (major & 0xff) + " (supported: 1, 2, 3)");
    }
    if (minor != 0) {
      throw new DataException(
          source + ": unsupported .npy version " + major + "." + (minor & 0xff) + " (minor must be 0)");
    }
    if (start + headerLen > bytes.length) {
      throw new DataException(
          source + ": truncated .npy header (" + headerLen + " header bytes announced, "
              + (bytes.length - start) + " in the file)");
    }
    String header =
        new String(
            bytes, start, (int) headerLen,
            major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    String descr = find(DESCR, header, source, "descr");
    boolean fortran = find(FORTRAN, header, source, "fortran_order").equals("True");
    long[] shape = parseShape(find(SHAPE, header, source, "shape"), source);
    if (descr.length() < 2 || "<>|=".indexOf(descr.charAt(0)) < 0) {
      throw new DataException(
          source + ": unsupported element type '" + descr + "' (supported: float16/32/64, "
              + "int8/16/32/64, uint8/16/32, bool, as '<f4', '|u1', ...)");
    }
    char order = descr.charAt(0);
    String kind = descr.substring(1);
    ByteOrder byteOrder = order == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
    int size = elementSize(kind, source, descr);
    long n = 1;
    long nbytes;
    try {
      for (long d : shape) {
        n = Math.multiplyExact(n, d);
      }
      nbytes = Math.multiplyExact(n, (long) size);
    } catch (ArithmeticException e) {
      throw new DataException(
          source + ": shape " + java.util.Arrays.toString(shape) + " of " + descr
              + " holds more elements than a file can");
    }
    long dataStart = start + headerLen;
    long available = bytes.length - dataStart;
    if (available != nbytes) {
      throw new DataException(
          source
              + ": "
              + (available < nbytes ? "truncated data: " : "data length does not match the shape: ")
              + available
              + " bytes for "
              + n
              + " elements of "
              + descr
              + " (shape "
              + java.util.Arrays.toString(shape)
              + ", "
              + nbytes
              + " bytes)");
    }
    if (n > Integer.MAX_VALUE - 8) {
      throw new DataException(source + ": " + n + " elements are more than one array can hold");
    }
    ByteBuffer d = ByteBuffer.wrap(bytes, (int) dataStart, (int) nbytes).slice().order(byteOrder);
    int count = (int) n;
    INDArray flat = values(d, kind, count);
    INDArray shaped;
    if (shape.length == 0) {
      shaped = flat.reshape(new long[0]);
    } else if (n == 0) {
      shaped = Nd4j.create(flat.dataType(), shape);
    } else if (fortran) {
      shaped = flat.reshape('f', shape).dup('c');
    } else {
      shaped = flat.reshape('c', shape);
    }
    return shaped;
  }

  /** An I/O failure in words, without the exception's class name. */
  public static String ioReason(IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
      return f.getReason();
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  private static INDArray values(ByteBuffer d, String kind, int n) {
    switch (kind) {
      case "f4" -> {
        float[] v = new float[n];
        d.asFloatBuffer().get(v);
        return Nd4j.createFromArray(v);
      }
      case "f8" -> {
        double[] v = new double[n];
        d.asDoubleBuffer().get(v);
        return Nd4j.createFromArray(v);
      }
      case "f2" -> {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
          v[i] = dev.qdebug.engine.Tensors.halfToFloat(d.getShort());
        }
        return Nd4j.createFromArray(v).castTo(DataType.HALF);
      }
      case "i8" -> {
        long[] v = new long[n];
        d.asLongBuffer().get(v);
        return Nd4j.createFromArray(v);
      }
      case "i4" -> {
        int[] v = new int[n];
        d.asIntBuffer().get(v);
        return Nd4j.createFromArray(v);
      }
      case "i2" -> {
        short[] v = new short[n];
        d.asShortBuffer().get(v);
        return Nd4j.createFromArray(v);
      }
      case "i1" -> {
        byte[] v = new byte[n];
        d.get(v);
        return Nd4j.createFromArray(v);
      }
      case "u1" -> {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
          v[i] = d.get() & 0xff;
        }
        return Nd4j.createFromArray(v).castTo(DataType.UBYTE);
      }
      case "u2" -> {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
          v[i] = Short.toUnsignedInt(d.getShort());
        }
        return Nd4j.createFromArray(v).castTo(DataType.UINT16);
      }
      case "u4" -> {
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
          v[i] = Integer.toUnsignedLong(d.getInt());
        }
        return Nd4j.createFromArray(v).castTo(DataType.UINT32);
      }
      case "b1" -> {
        boolean[] v = new boolean[n];
        for (int i = 0; i < n; i++) {
          v[i] = d.get() != 0;
        }
        return Nd4j.createFromArray(v);
      }
      default -> throw new IllegalStateException(kind);
    }
  }

  private static int elementSize(String kind, String source, String descr) {
    return switch (kind) {
      case "f8", "i8" -> 8;
      case "f4", "i4", "u4" -> 4;
      case "f2", "i2", "u2" -> 2;
      case "i1", "u1", "b1" -> 1;
      default -> throw new DataException(
          source
              + ": unsupported element type '"
              + descr
              + "' (supported: float16/32/64, int8/16/32/64, uint8/16/32, bool)");
    };
  }

  private static String find(Pattern p, String header, String source, String key) {
    Matcher m = p.matcher(header);
    if (!m.find()) {
      throw new DataException(source + ": .npy header has no '" + key + "': " + header.strip());
    }
    return m.group(1);
  }

  private static long[] parseShape(String s, String source) {
    List<Long> dims = new ArrayList<>();
    for (String part : s.split(",")) {
      String t = part.strip().replace("L", "");
      if (!t.isEmpty()) {
        long d;
        try {
          d = Long.parseLong(t);
        } catch (NumberFormatException e) {
          throw new DataException(source + ": bad shape in .npy header: (" + s + ")");
        }
        if (d < 0) {
          throw new DataException(
              source + ": negative dimension " + d + " in .npy header shape (" + s + ")");
        }
        dims.add(d);
      }
    }
    return dims.stream().mapToLong(Long::longValue).toArray();
  }

  /** Writes {@code a} to {@code file} (little-endian, C order) through a temporary file. */
  public static void write(Path file, INDArray a) {
    String descr =
        switch (a.dataType()) {
          case FLOAT -> "<f4";
          case DOUBLE -> "<f8";
          case HALF -> "<f2";
          case LONG -> "<i8";
          case INT -> "<i4";
          case SHORT -> "<i2";
          case BYTE -> "|i1";
          case UBYTE -> "|u1";
          case UINT16 -> "<u2";
          case UINT32 -> "<u4";
          case BOOL -> "|b1";
          default -> throw new DataException(file + ": cannot write element type " + a.dataType());
        };
    long[] shape = a.shape();
    StringBuilder sh = new StringBuilder("(");
    for (int i = 0; i < shape.length; i++) {
      sh.append(shape[i]).append(shape.length == 1 || i < shape.length - 1 ? "," : "");
      if (i < shape.length - 1) {
        sh.append(' ');
      }
    }
    sh.append(")");
    String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + sh + ", }";
    int total = 10 + dict.length() + 1;
    int pad = (64 - total % 64) % 64;
    String header = dict + " ".repeat(pad) + "\n";
    INDArray c = a.dup('c');
    int n = (int) c.length();
    int size = elementSize(descr.substring(1), file.toString(), descr);
    ByteBuffer out = ByteBuffer.allocate(10 + header.length() + n * size).order(ByteOrder.LITTLE_ENDIAN);
    out.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length());
    out.put(header.getBytes(StandardCharsets.ISO_8859_1));
    switch (descr.substring(1)) {
      case "f4" -> {
        for (float x : c.data().asFloat()) {
          out.putFloat(x);
        }
      }
      case "f8" -> {
        for (double x : c.data().asDouble()) {
          out.putDouble(x);
        }
      }
      case "f2" -> {
        for (float x : c.castTo(DataType.FLOAT).data().asFloat()) {
          out.putShort(dev.qdebug.engine.Tensors.floatToHalf(x));
        }
      }
      default -> {
        for (long x : c.data().asLong()) {
          switch (size) {
            case 8 -> out.putLong(x);
            case 4 -> out.putInt((int) x);
            case 2 -> out.putShort((short) x);
            default -> out.put((byte) x);
          }
        }
      }
    }
    writeAtomically(file, out.array());
  }

  /** Writes {@code bytes} to {@code file} atomically. */
  static void writeAtomically(Path file, byte[] bytes) {
    dev.qdebug.AtomicFiles.write(file, bytes);
  }
}
