package dev.qdebug.data;

import dev.qdebug.DataException;
import dev.qdebug.Inputs;
import dev.qdebug.SafeNames;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.ValueInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Samples for a model's inputs, from a folder in Horizon's calibration layout ({@code
 * DIR/<input>/0.npy, 1.npy, ...}, files in numeric order; a one-input model may also take {@code
 * DIR/*.npy}), or from {@code DIR/images.npy} holding all samples along the first axis. Every
 * sample is checked against the model's declared inputs when it is read, and errors name the file
 * and the sample index: a missing input folder, an empty folder, different sample counts per
 * input, a wrong element type or shape, NaN or infinite values.
 *
 * <p>The sub-folder of an input is the input's name made a single safe file name ({@link
 * SafeNames#of}: {@code ../x} reads {@code DIR/.._x}, never a folder outside {@code DIR}). Every
 * file read is registered with {@link Inputs}, so that no output of the command can replace it.
 */
public final class SampleSet {
  private static final Pattern NUMBERED = Pattern.compile("(\\d+)\\.npy");

  /** The largest sample index a file name may give (a name is a small integer). */
  static final long MAX_INDEX = Integer.MAX_VALUE;

  private final Path dir;
  private final List<ValueInfo> inputs;
  private final Map<String, List<Path>> files; // per input, numeric order; null for stacked
  private final Map<String, INDArray> stacked; // per input, all samples; null for files
  private final int size;

  private SampleSet(
      Path dir,
      List<ValueInfo> inputs,
      Map<String, List<Path>> files,
      Map<String, INDArray> stacked,
      int size) {
    this.dir = dir;
    this.inputs = inputs;
    this.files = files;
    this.stacked = stacked;
    this.size = size;
  }

  /**
   * Opens {@code dir} for a model with {@code inputs}.
   *
   * @throws DataException naming the folder or file when the layout does not fit the model
   */
  public static SampleSet open(Path dir, List<ValueInfo> inputs) {
    if (!Files.isDirectory(dir)) {
      throw new DataException(dir + ": no such folder");
    }
    if (Files.isRegularFile(dir.resolve("images.npy"))) {
      if (inputs.size() != 1) {
        throw new DataException(
            dir + "/images.npy: the model has " + inputs.size() + " inputs; use one sub-folder per input");
      }
      Inputs.add(dir.resolve("images.npy"), "a sample file");
      addLabels(dir);
      INDArray all = Npy.read(dir.resolve("images.npy"));
      if (all.rank() == 0 || all.size(0) == 0) {
        throw new DataException(dir + "/images.npy: holds no samples");
      }
      return new SampleSet(dir, inputs, null, Map.of(inputs.get(0).name(), all), (int) all.size(0));
    }
    Map<String, List<Path>> files = new LinkedHashMap<>();
    SafeNames.Unique folders = new SafeNames.Unique();
    for (ValueInfo v : inputs) {
      String folder = folders.of(v.name());
      Path sub = dir.resolve(folder);
      if (Files.isDirectory(sub)) {
        files.put(v.name(), numbered(sub));
      } else if (inputs.size() == 1 && !numbered(dir).isEmpty()) {
        files.put(v.name(), numbered(dir));
      } else {
        throw new DataException(
            dir + ": no folder '" + folder + "' for model input '" + v.name() + "' (expected "
                + sub + "/0.npy, 1.npy, ...)");
      }
    }
    for (List<Path> l : files.values()) {
      l.forEach(f -> Inputs.add(f, "a sample file"));
    }
    addLabels(dir);
    int size = -1;
    String first = null;
    for (Map.Entry<String, List<Path>> e : files.entrySet()) {
      if (e.getValue().isEmpty()) {
        throw new DataException(
            dir.resolve(e.getKey()) + ": holds no .npy samples (expected 0.npy, 1.npy, ...)");
      }
      if (size >= 0 && e.getValue().size() != size) {
        throw new DataException(
            dir + ": input '" + e.getKey() + "' has " + e.getValue().size() + " samples but '"
                + first + "' has " + size);
      }
      size = e.getValue().size();
      first = e.getKey();
    }
    return new SampleSet(dir, inputs, files, null, size);
  }

  private static void addLabels(Path dir) {
    Path labels = dir.resolve("labels.npy");
    if (Files.exists(labels)) {
      Inputs.add(labels, "the labels file");
    }
  }

  /**
   * The numbered samples {@code <i>.npy} in {@code dir}, by index.
   *
   * @throws DataException naming the file when its number is not a small integer or two files give
   *     the same index ({@code 1.npy}, {@code 01.npy})
   */
  private static List<Path> numbered(Path dir) {
    List<Path> found;
    try (Stream<Path> s = Files.list(dir)) {
      found = s.filter(p -> NUMBERED.matcher(p.getFileName().toString()).matches()).toList();
    } catch (IOException e) {
      throw new DataException(dir + ": cannot list: " + e.getMessage(), e);
    }
    java.util.TreeMap<Long, Path> byIndex = new java.util.TreeMap<>();
    for (Path p : found) {
      Path other = byIndex.put(index(p), p);
      if (other != null) {
        throw new DataException(
            p + ": sample " + index(p) + " is also " + other.getFileName() + "; keep one of them");
      }
    }
    return List.copyOf(byIndex.values());
  }

  private static long index(Path p) {
    Matcher m = NUMBERED.matcher(p.getFileName().toString());
    m.matches();
    String digits = m.group(1).replaceFirst("^0+(?=.)", "");
    if (digits.length() > 10 || Long.parseLong(digits) > MAX_INDEX) {
      throw new DataException(
          p + ": the sample number is not a small integer (0.npy, 1.npy, ... up to " + MAX_INDEX
              + ")");
    }
    return Long.parseLong(digits);
  }

  public Path dir() {
    return dir;
  }

  /** Number of samples. */
  public int size() {
    return size;
  }

  /** Sample {@code i} (batch dimension 1), checked against the model's inputs. */
  public Map<String, INDArray> sample(int i) {
    return batch(i, 1);
  }

  /**
   * Samples {@code from .. from+count-1} stacked along a batch dimension, checked against the
   * model's inputs.
   */
  public Map<String, INDArray> batch(int from, int count) {
    if (from < 0 || count <= 0 || from + count > size) {
      throw new IndexOutOfBoundsException(
          "samples " + from + ".." + (from + count - 1) + " of " + size);
    }
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (ValueInfo v : inputs) {
      INDArray[] parts = new INDArray[count];
      for (int k = 0; k < count; k++) {
        parts[k] = load(v, from + k);
      }
      out.put(v.name(), count == 1 ? parts[0] : Nd4j.concat(0, parts));
    }
    return out;
  }

  /**
   * The samples at {@code indices} (any order, no repeats needed) stacked along a batch dimension
   * in that order, checked against the model's inputs. Their shapes must agree (see {@link
   * BatchPlan}, which groups samples of one shape).
   *
   * @throws dev.qdebug.DataException naming the files when the shapes differ
   */
  public Map<String, INDArray> batch(int[] indices) {
    if (indices.length == 0) {
      throw new IndexOutOfBoundsException("no samples");
    }
    boolean consecutive = true;
    for (int k = 1; k < indices.length; k++) {
      consecutive &= indices[k] == indices[0] + k;
    }
    for (int i : indices) {
      if (i < 0 || i >= size) {
        throw new IndexOutOfBoundsException("sample " + i + " of " + size);
      }
    }
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (ValueInfo v : inputs) {
      INDArray[] parts = new INDArray[indices.length];
      for (int k = 0; k < indices.length; k++) {
        parts[k] = load(v, indices[k]);
        if (k > 0 && !Arrays.equals(parts[k].shape(), parts[0].shape())) {
          throw new DataException(
              where(v, indices[k]) + ": shape " + Arrays.toString(parts[k].shape())
                  + " cannot be stacked with " + where(v, indices[0]) + " of shape "
                  + Arrays.toString(parts[0].shape()));
        }
      }
      out.put(v.name(), indices.length == 1 ? parts[0] : Nd4j.concat(0, parts));
    }
    return out;
  }

  private String where(ValueInfo v, int i) {
    return stacked != null
        ? dir.resolve("images.npy") + " sample " + i
        : files.get(v.name()).get(i).toString();
  }

  /**
   * The shape of sample {@code i} of every input, batch dimension excluded, one array per input in
   * model order; read from the .npy headers only (the values are not loaded). Inputs whose
   * declared dimensions are all fixed give their declared shape.
   */
  public long[][] shapeOf(int i) {
    long[][] out = new long[inputs.size()][];
    for (int k = 0; k < inputs.size(); k++) {
      ValueInfo v = inputs.get(k);
      boolean fixed = v.hasShape();
      for (int d = 1; fixed && d < v.shape().length; d++) {
        fixed = v.shape()[d] >= 0;
      }
      long[] full;
      if (fixed) {
        full = v.shape();
      } else if (stacked != null) {
        full = stacked.get(v.name()).shape();
      } else {
        full = Npy.readShape(files.get(v.name()).get(i));
        if (v.hasShape() && full.length == v.shape().length - 1) {
          long[] s1 = new long[full.length + 1];
          s1[0] = 1;
          System.arraycopy(full, 0, s1, 1, full.length);
          full = s1;
        }
      }
      out[k] = full.length == 0 ? full : Arrays.copyOfRange(full, 1, full.length);
    }
    return out;
  }

  /** Whether every sample has the same shape for sure (no input has a free dimension). */
  public boolean fixedShapes() {
    if (stacked != null) {
      return true;
    }
    for (ValueInfo v : inputs) {
      if (!v.hasShape()) {
        return false;
      }
      for (int d = 1; d < v.shape().length; d++) {
        if (v.shape()[d] < 0) {
          return false;
        }
      }
    }
    return true;
  }

  private INDArray load(ValueInfo v, int i) {
    INDArray x;
    String where;
    if (stacked != null) {
      INDArray all = stacked.get(v.name());
      x = all.get(NDArrayIndex.interval(i, i + 1)).dup('c');
      where = dir.resolve("images.npy") + " sample " + i;
    } else {
      Path f = files.get(v.name()).get(i);
      x = Npy.read(f);
      where = f + " (sample " + i + ")";
    }
    return check(v, x, where);
  }

  /** Adds a batch dimension of 1 where the file has none, then checks type, shape and values. */
  static INDArray check(ValueInfo v, INDArray x, String where) {
    if (v.hasShape() && x.rank() == v.shape().length - 1) {
      long[] s = new long[x.rank() + 1];
      s[0] = 1;
      System.arraycopy(x.shape(), 0, s, 1, x.rank());
      x = x.reshape(s);
    }
    if (v.type() != ElemType.UNDEFINED) {
      ElemType got = Tensors.elemType(x.dataType());
      if (got != v.type()) {
        throw new DataException(
            where + ": element type " + got + ", but input '" + v.name() + "' takes " + v.type());
      }
    }
    if (v.hasShape()) {
      long[] want = v.shape();
      boolean ok = want.length == x.rank() && x.size(0) == 1;
      for (int d = 1; ok && d < want.length; d++) {
        ok = want[d] < 0 || want[d] == x.size(d);
      }
      if (!ok) {
        throw new DataException(
            where + ": shape " + Arrays.toString(x.shape()) + " does not fit input '" + v.name()
                + "' " + Arrays.toString(want) + " (one sample, batch dimension 1 or absent)");
      }
    }
    if (x.dataType().isFPType()) {
      float[] f = x.dup('c').data().asFloat();
      for (int k = 0; k < f.length; k++) {
        if (!Float.isFinite(f[k])) {
          throw new DataException(
              where + ": value " + f[k] + " at flat index " + k + " (NaN or infinite)");
        }
      }
    }
    return x;
  }

  /**
   * The class labels of a labeled set: {@code DIR/labels.npy}, int64 or int32, one per sample.
   *
   * @throws DataException naming the file when it is missing, of another type or another length
   */
  public long[] labels() {
    Path f = dir.resolve("labels.npy");
    if (!Files.isRegularFile(f)) {
      throw new DataException(f + ": no labels file (a labeled set needs DIR/labels.npy)");
    }
    INDArray l = Npy.read(f);
    if (l.dataType() != org.nd4j.linalg.api.buffer.DataType.LONG
        && l.dataType() != org.nd4j.linalg.api.buffer.DataType.INT) {
      throw new DataException(f + ": labels must be int64 or int32, got " + l.dataType());
    }
    if (l.length() != size) {
      throw new DataException(f + ": " + l.length() + " labels for " + size + " samples");
    }
    long[] out = l.dup('c').data().asLong();
    for (int i = 0; i < out.length; i++) {
      if (out[i] < 0) {
        throw labelError(i, out[i], -1);
      }
    }
    return out;
  }

  /**
   * {@link #labels()}, each checked to lie in {@code [0, classes)}.
   *
   * @throws DataException naming the file and the sample index of the first label outside
   */
  public long[] labels(long classes) {
    long[] out = labels();
    for (int i = 0; i < out.length; i++) {
      if (out[i] >= classes) {
        throw labelError(i, out[i], classes);
      }
    }
    return out;
  }

  /** The error for label {@code label} of sample {@code i}; {@code classes} -1 if not known. */
  public DataException labelError(int i, long label, long classes) {
    return new DataException(
        dir.resolve("labels.npy") + ": label " + label + " of sample " + i + " is outside [0, "
            + (classes < 0 ? "classes" : String.valueOf(classes)) + ")");
  }

  /** The input names, in model order. */
  public List<String> inputNames() {
    List<String> n = new ArrayList<>();
    inputs.forEach(v -> n.add(v.name()));
    return n;
  }
}
