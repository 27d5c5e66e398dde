package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.onnx.OnnxNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Resize, every opset form: opset 10 (X, scales; asymmetric coordinates, nearest or linear), 11 and
 * later (X, roi, scales, sizes) with modes nearest (every nearest_mode), linear and cubic
 * (cubic_coeff_a, exclude_outside), every coordinate_transformation_mode including
 * tf_crop_and_resize with extrapolation_value, and from opset 18 antialias, axes and
 * keep_aspect_ratio_policy. Follows the ONNX reference implementation.
 *
 * <p>Nearest picks source indices per axis and copies (exact for any element type). Linear and
 * cubic are separable: one pass per resized axis with precomputed taps and weights, over float data
 * (double for DOUBLE and integer inputs, which are truncated back as the reference does).
 */
final class Resize implements Op {
  enum Mode {
    NEAREST,
    LINEAR,
    CUBIC
  }

  enum Coord {
    HALF_PIXEL,
    HALF_PIXEL_SYMMETRIC,
    PYTORCH_HALF_PIXEL,
    ALIGN_CORNERS,
    ASYMMETRIC,
    TF_HALF_PIXEL_FOR_NN,
    TF_CROP_AND_RESIZE
  }

  enum Nearest {
    ROUND_PREFER_FLOOR,
    ROUND_PREFER_CEIL,
    FLOOR,
    CEIL,
    /** Opset < 11 and Upsample: floor when enlarging, ceil when shrinking (as onnxruntime). */
    SIMPLE
  }

  enum Policy {
    STRETCH,
    NOT_LARGER,
    NOT_SMALLER
  }

  private final OnnxNode node;
  private final boolean legacyInputs;
  final Mode mode;
  final Coord coord;
  final Nearest nearest;
  final double cubicA;
  final boolean excludeOutside;
  final double extrapolation;
  final boolean antialias;
  final long[] axes;
  final Policy policy;

  Resize(OnnxNode node, int opset) {
    this.node = node;
    legacyInputs = opset < 11;
    mode = parseMode(node, node.attrString("mode", "nearest"));
    if (legacyInputs) {
      if (mode == Mode.CUBIC) {
        throw node.error("mode 'cubic' needs opset 11 or later");
      }
      coord = Coord.ASYMMETRIC;
      nearest = Nearest.SIMPLE;
    } else {
      String c = node.attrString("coordinate_transformation_mode", "half_pixel");
      coord =
          switch (c) {
            case "half_pixel" -> Coord.HALF_PIXEL;
            case "half_pixel_symmetric" -> Coord.HALF_PIXEL_SYMMETRIC;
            case "pytorch_half_pixel" -> Coord.PYTORCH_HALF_PIXEL;
            case "align_corners" -> Coord.ALIGN_CORNERS;
            case "asymmetric" -> Coord.ASYMMETRIC;
            case "tf_half_pixel_for_nn" -> Coord.TF_HALF_PIXEL_FOR_NN;
            case "tf_crop_and_resize" -> Coord.TF_CROP_AND_RESIZE;
            default -> throw node.error("unknown coordinate_transformation_mode '" + c + "'");
          };
      String n = node.attrString("nearest_mode", "round_prefer_floor");
      nearest =
          switch (n) {
            case "round_prefer_floor" -> Nearest.ROUND_PREFER_FLOOR;
            case "round_prefer_ceil" -> Nearest.ROUND_PREFER_CEIL;
            case "floor" -> Nearest.FLOOR;
            case "ceil" -> Nearest.CEIL;
            default -> throw node.error("unknown nearest_mode '" + n + "'");
          };
    }
    cubicA = node.attrFloat("cubic_coeff_a", -0.75f);
    excludeOutside = node.attrInt("exclude_outside", 0) != 0;
    extrapolation = node.attrFloat("extrapolation_value", 0f);
    antialias = node.attrInt("antialias", 0) != 0;
    if (antialias && mode == Mode.NEAREST) {
      throw node.error("antialias is not defined for mode 'nearest'");
    }
    axes = node.attrInts("axes").orElse(null);
    String p = node.attrString("keep_aspect_ratio_policy", "stretch");
    policy =
        switch (p) {
          case "stretch" -> Policy.STRETCH;
          case "not_larger" -> Policy.NOT_LARGER;
          case "not_smaller" -> Policy.NOT_SMALLER;
          default -> throw node.error("unknown keep_aspect_ratio_policy '" + p + "'");
        };
  }

  /** The opset 7..9 Upsample semantics: asymmetric coordinates, legacy nearest rounding. */
  Resize(OnnxNode node, Mode mode) {
    this.node = node;
    legacyInputs = true;
    this.mode = mode;
    coord = Coord.ASYMMETRIC;
    nearest = Nearest.SIMPLE;
    cubicA = -0.75;
    excludeOutside = false;
    extrapolation = 0;
    antialias = false;
    axes = null;
    policy = Policy.STRETCH;
  }

  static Mode parseMode(OnnxNode node, String m) {
    return switch (m) {
      case "nearest" -> Mode.NEAREST;
      case "linear", "bilinear", "trilinear" -> Mode.LINEAR;
      case "cubic", "bicubic" -> Mode.CUBIC;
      default -> throw node.error("unknown mode '" + m + "'");
    };
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    double[] scales = null;
    long[] sizes = null;
    double[] roi = null;
    if (legacyInputs) {
      if (!ShapeArgs.given(in, 1)) {
        throw node.error("needs the scales input");
      }
      scales = ShapeArgs.doubles(in[1]);
    } else {
      if (ShapeArgs.given(in, 3)) {
        sizes = ShapeArgs.longs(in[3]);
      } else if (ShapeArgs.given(in, 2)) {
        scales = ShapeArgs.doubles(in[2]);
      } else {
        throw node.error("needs a scales or a sizes input");
      }
      if (ShapeArgs.given(in, 1)) {
        roi = ShapeArgs.doubles(in[1]);
      }
    }
    return new INDArray[] {resize(x, scales, sizes, roi)};
  }

  /** Resizes {@code x} by {@code scales} or to {@code sizes} (one per resized axis). */
  INDArray resize(INDArray x, double[] scales, long[] sizes, double[] roi) {
    long[] shape = x.shape();
    int r = shape.length;
    int[] ax;
    if (axes == null) {
      ax = new int[r];
      for (int d = 0; d < r; d++) {
        ax[d] = d;
      }
    } else {
      ax = ShapeArgs.axes(node, axes, r);
    }
    int k = ax.length;
    float[] scale = new float[r];
    float[] width = new float[r];
    long[] out = shape.clone();
    for (int d = 0; d < r; d++) {
      scale[d] = 1f;
      width[d] = shape[d];
    }
    if (sizes != null) {
      if (sizes.length != k) {
        throw node.error(
            "sizes "
                + ShapeArgs.str(sizes)
                + " do not fit an input of shape "
                + ShapeArgs.str(shape));
      }
      for (int i = 0; i < k; i++) {
        int d = ax[i];
        if (sizes[i] < 0) {
          throw node.error("negative size in " + ShapeArgs.str(sizes));
        }
        scale[d] = shape[d] == 0 ? 1f : (float) sizes[i] / (float) shape[d];
        width[d] = sizes[i];
        out[d] = sizes[i];
      }
      if (policy != Policy.STRETCH) {
        float s = policy == Policy.NOT_LARGER ? Float.MAX_VALUE : 0;
        for (int d : ax) {
          s = policy == Policy.NOT_LARGER ? Math.min(s, scale[d]) : Math.max(s, scale[d]);
        }
        for (int d : ax) {
          scale[d] = s;
          width[d] = s * shape[d];
          out[d] = (long) ((double) s * shape[d] + 0.5);
        }
      }
    } else {
      if (scales.length != k) {
        throw node.error(
            "scales "
                + Arrays.toString(scales)
                + " do not fit an input of shape "
                + ShapeArgs.str(shape));
      }
      for (int i = 0; i < k; i++) {
        int d = ax[i];
        if (!(scales[i] > 0)) {
          throw node.error("scales must be positive, got " + Arrays.toString(scales));
        }
        scale[d] = (float) scales[i];
        // float arithmetic as onnxruntime: 0.7f * 10 gives 7 (in double it is 6.99999988)
        width[d] = scale[d] * shape[d];
        out[d] = (long) width[d];
      }
    }
    float[] roiStart = new float[r];
    float[] roiEnd = new float[r];
    Arrays.fill(roiEnd, 1f);
    if (coord == Coord.TF_CROP_AND_RESIZE && roi != null) {
      if (roi.length != 2 * k) {
        throw node.error("roi " + Arrays.toString(roi) + " should have " + 2 * k + " values");
      }
      for (int i = 0; i < k; i++) {
        roiStart[ax[i]] = (float) roi[i];
        roiEnd[ax[i]] = (float) roi[k + i];
      }
    }
    if (ShapeArgs.product(out, 0, r) == 0 || x.length() == 0) {
      return FlatData.zeros(x.dataType(), out).toArray();
    }
    Geom[] g = new Geom[r];
    for (int d = 0; d < r; d++) {
      g[d] = new Geom(shape[d], out[d], scale[d], width[d], roiStart[d], roiEnd[d]);
    }
    if (mode == Mode.NEAREST) {
      return nearest(x, shape, out, g);
    }
    return interpolate(x, shape, out, g);
  }

  /** How one axis is resized: sizes, scale, fractional output width, crop box. */
  private record Geom(long in, long out, float scale, float width, float rs, float re) {}

  /**
   * Whether axis {@code g} is left as it is: scale 1 maps each index to itself whatever the
   * coordinate mode (as onnxruntime does; tf_half_pixel_for_nn would otherwise shift by half a
   * pixel), except under tf_crop_and_resize, whose crop box applies at any scale.
   */
  private boolean unchanged(Geom g) {
    return g.scale == 1f && g.out == g.in && coord != Coord.TF_CROP_AND_RESIZE;
  }

  private double original(int j, Geom g) {
    return original(j, g.in, g.out, g.scale, g.width, g.rs, g.re);
  }

  /**
   * The source coordinate of output index {@code j} along an axis of {@code in} elements resized to
   * {@code outInt}; NaN when outside the crop of tf_crop_and_resize. {@code outWidth} is the output
   * width before truncation to an integer (scale times input size), which align_corners,
   * tf_crop_and_resize and half_pixel_symmetric use as the ONNX reference does. Computed in float
   * arithmetic as onnxruntime does, so that ties in nearest rounding fall the same way.
   */
  private double original(
      int j, long in, long outInt, float scale, float outWidth, float rs, float re) {
    float jf = j;
    float inF = in;
    switch (coord) {
      case HALF_PIXEL:
        return (jf + 0.5f) / scale - 0.5f;
      case HALF_PIXEL_SYMMETRIC:
        {
          float adjustment = outInt / outWidth;
          float center = inF / 2;
          float offset = center * (1 - adjustment);
          return offset + (jf + 0.5f) / scale - 0.5f;
        }
      case PYTORCH_HALF_PIXEL:
        return outInt > 1 ? (jf + 0.5f) / scale - 0.5f : 0f;
      case ALIGN_CORNERS:
        return outWidth == 1 ? 0f : jf * (inF - 1) / (outWidth - 1);
      case ASYMMETRIC:
        return jf / scale;
      case TF_HALF_PIXEL_FOR_NN:
        return (jf + 0.5f) / scale;
      case TF_CROP_AND_RESIZE:
        {
          float v =
              outWidth == 1
                  ? 0.5f * (rs + re) * (inF - 1)
                  : rs * (inF - 1) + (jf * (re - rs) * (inF - 1)) / (outWidth - 1);
          return v < 0 || v > inF - 1 ? Double.NaN : v;
        }
      default:
        throw new IllegalStateException();
    }
  }

  private INDArray nearest(INDArray x, long[] shape, long[] out, Geom[] g) {
    int r = shape.length;
    long[] strides = FlatData.strides(shape);
    int[][] off = new int[r][];
    for (int d = 0; d < r; d++) {
      long in = shape[d];
      off[d] = new int[(int) out[d]];
      for (int j = 0; j < out[d]; j++) {
        if (unchanged(g[d])) {
          off[d][j] = (int) (j * strides[d]);
          continue;
        }
        double xo = original(j, g[d]);
        if (Double.isNaN(xo)) {
          off[d][j] = -1;
          continue;
        }
        long i = nearestIndex(xo, g[d].scale);
        i = Math.max(0, Math.min(in - 1, i));
        off[d][j] = (int) (i * strides[d]);
      }
    }
    FlatData.Fill fill = FlatData.Fill.of(extrapolation);
    return FlatData.gather(FlatData.of(x), out, off, fill).toArray();
  }

  private long nearestIndex(double x, double scale) {
    if (nearest == Nearest.SIMPLE) {
      return scale < 1 ? (long) Math.ceil(x) : (long) x;
    }
    double f = Math.floor(x);
    if (f == x) {
      return (long) x;
    }
    double ratio = x - f;
    boolean up =
        switch (nearest) {
          case ROUND_PREFER_FLOOR -> ratio > 0.5;
          case ROUND_PREFER_CEIL -> ratio >= 0.5;
          case FLOOR -> false;
          default -> true;
        };
    return (long) f + (up ? 1 : 0);
  }

  /** Taps and weights of a linear or cubic pass along one axis. */
  private static final class Table {
    final int axis;
    final int nOut;
    final int taps;
    final int[] idx;
    final double[] w;
    final boolean[] outside;

    Table(int axis, int nOut, int taps) {
      this.axis = axis;
      this.nOut = nOut;
      this.taps = taps;
      idx = new int[nOut * taps];
      w = new double[nOut * taps];
      outside = new boolean[nOut];
    }

    boolean identity(long in) {
      if (nOut != in) {
        return false;
      }
      for (int j = 0; j < nOut; j++) {
        if (outside[j]) {
          return false;
        }
        for (int t = 0; t < taps; t++) {
          double wt = w[j * taps + t];
          if (wt != 0 && (idx[j * taps + t] != j || wt != 1)) {
            return false;
          }
        }
      }
      return true;
    }
  }

  private Table table(int d, Geom g) {
    int n = (int) g.out;
    long in = g.in;
    double scale = g.scale;
    int taps;
    int start;
    if (antialias) {
      double s = Math.min(scale, 1.0);
      start = mode == Mode.LINEAR ? (int) Math.floor(-1 / s) + 1 : (int) Math.floor(-2 / s) + 1;
      taps = 2 - 2 * start;
    } else {
      taps = mode == Mode.LINEAR ? 2 : 4;
      start = 1 - taps / 2;
    }
    Table t = new Table(d, n, taps);
    double[] c = new double[taps];
    for (int j = 0; j < n; j++) {
      double xo = original(j, g);
      int base = j * taps;
      if (Double.isNaN(xo)) {
        t.outside[j] = true;
        continue;
      }
      double f = Math.floor(xo);
      long b;
      double ratio;
      if (f == xo) {
        b = (long) f - 1;
        ratio = 1;
      } else {
        b = (long) f;
        ratio = xo - f;
      }
      coeffs(ratio, scale, start, c);
      double sum = 0;
      for (int i = 0; i < taps; i++) {
        long src = b + start + i;
        if (excludeOutside && (src < 0 || src >= in)) {
          c[i] = 0;
        }
        sum += c[i];
        t.idx[base + i] = (int) Math.max(0, Math.min(in - 1, src));
      }
      for (int i = 0; i < taps; i++) {
        t.w[base + i] = excludeOutside && sum != 0 ? c[i] / sum : c[i];
      }
    }
    return t;
  }

  private void coeffs(double ratio, double scale, int start, double[] c) {
    int n = c.length;
    if (mode == Mode.LINEAR) {
      if (!antialias) {
        c[0] = 1 - ratio;
        c[1] = ratio;
        return;
      }
      double s = Math.min(scale, 1.0);
      double sum = 0;
      for (int i = 0; i < n; i++) {
        double a = (start + i - ratio) * s;
        c[i] = Math.max(0, Math.min(1, 1 - Math.abs(a)));
        sum += c[i];
      }
      for (int i = 0; i < n; i++) {
        c[i] /= sum;
      }
      return;
    }
    double a = cubicA;
    if (!antialias) {
      double r1 = ratio + 1;
      double q = 1 - ratio;
      double q1 = q + 1;
      c[0] = ((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a;
      c[1] = ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1;
      c[2] = ((a + 2) * q - (a + 3)) * q * q + 1;
      c[3] = ((a * q1 - 5 * a) * q1 + 8 * a) * q1 - 4 * a;
      return;
    }
    double s = Math.min(scale, 1.0);
    double sum = 0;
    for (int i = 0; i < n; i++) {
      double v = Math.abs(s * (start + i - ratio));
      double v2 = v * v;
      double v3 = v * v2;
      if (v <= 1) {
        c[i] = (a + 2) * v3 - (a + 3) * v2 + 1;
      } else if (v < 2) {
        c[i] = a * v3 - 5 * a * v2 + 8 * a * v - 4 * a;
      } else {
        c[i] = 0;
      }
      sum += c[i];
    }
    for (int i = 0; i < n; i++) {
      c[i] /= sum;
    }
  }

  private INDArray interpolate(INDArray x, long[] shape, long[] out, Geom[] g) {
    int r = shape.length;
    List<Table> tables = new ArrayList<>();
    for (int d = 0; d < r; d++) {
      if (unchanged(g[d])) {
        continue;
      }
      Table t = table(d, g[d]);
      if (!t.identity(shape[d])) {
        tables.add(t);
      }
    }
    if (tables.isEmpty()) {
      return x;
    }
    tables = cheapestOrder(tables, shape);
    FlatData src = FlatData.of(x);
    long[] cur = shape.clone();
    if (src.kind == FlatData.Kind.F) {
      float[] data = (float[]) src.data;
      for (Table t : tables) {
        data = pass(data, cur, t, (float) extrapolation);
        cur[t.axis] = t.nOut;
      }
      return FlatData.wrap(x.dataType(), cur, data).toArray();
    }
    double[] data = src.doubles();
    for (Table t : tables) {
      data = pass(data, cur, t, extrapolation);
      cur[t.axis] = t.nOut;
    }
    if (src.kind == FlatData.Kind.D) {
      return FlatData.wrap(x.dataType(), cur, data).toArray();
    }
    // integers: truncated as the reference does, and saturated (cubic overshoots) instead of
    // wrapping around
    long lo;
    long hi;
    switch (x.dataType()) {
      case BYTE -> {
        lo = Byte.MIN_VALUE;
        hi = Byte.MAX_VALUE;
      }
      case UBYTE -> {
        lo = 0;
        hi = 255;
      }
      case SHORT -> {
        lo = Short.MIN_VALUE;
        hi = Short.MAX_VALUE;
      }
      case UINT16 -> {
        lo = 0;
        hi = 65535;
      }
      case INT -> {
        lo = Integer.MIN_VALUE;
        hi = Integer.MAX_VALUE;
      }
      case UINT32 -> {
        lo = 0;
        hi = 0xffffffffL;
      }
      case BOOL -> {
        lo = 0;
        hi = 1;
      }
      default -> {
        lo = Long.MIN_VALUE;
        hi = Long.MAX_VALUE;
      }
    }
    long[] l = new long[data.length];
    for (int i = 0; i < l.length; i++) {
      l[i] = Math.max(lo, Math.min(hi, (long) data[i]));
    }
    return FlatData.wrap(x.dataType(), cur, l).toArray();
  }

  /**
   * The order of the passes that does the least work: each costs its output size times its
   * taps, four times as much along the last axis, whose pass cannot run down contiguous rows.
   */
  private static List<Table> cheapestOrder(List<Table> tables, long[] shape) {
    List<Table> best = tables;
    double bestCost = Double.MAX_VALUE;
    for (List<Table> order : permutations(tables)) {
      long[] cur = shape.clone();
      double cost = 0;
      for (Table t : order) {
        cur[t.axis] = t.nOut;
        double size = ShapeArgs.product(cur, 0, cur.length);
        cost += size * t.taps * (t.axis == cur.length - 1 ? 4 : 1);
      }
      if (cost < bestCost) {
        bestCost = cost;
        best = order;
      }
    }
    return best;
  }

  private static List<List<Table>> permutations(List<Table> items) {
    List<List<Table>> out = new ArrayList<>();
    if (items.size() <= 1) {
      out.add(items);
      return out;
    }
    for (int i = 0; i < items.size(); i++) {
      List<Table> rest = new ArrayList<>(items);
      Table head = rest.remove(i);
      for (List<Table> p : permutations(rest)) {
        List<Table> o = new ArrayList<>();
        o.add(head);
        o.addAll(p);
        out.add(o);
      }
    }
    return out;
  }

  private static float[] pass(float[] src, long[] shape, Table t, float extra) {
    int a = t.axis;
    int outer = (int) ShapeArgs.product(shape, 0, a);
    int nIn = (int) shape[a];
    int inner = (int) ShapeArgs.product(shape, a + 1, shape.length);
    int nOut = t.nOut;
    int taps = t.taps;
    float[] dst = new float[outer * nOut * inner];
    for (int o = 0; o < outer; o++) {
      int sBase = o * nIn * inner;
      int dBase = o * nOut * inner;
      for (int j = 0; j < nOut; j++) {
        int dRow = dBase + j * inner;
        if (t.outside[j]) {
          Arrays.fill(dst, dRow, dRow + inner, extra);
          continue;
        }
        if (inner == 1) {
          float acc = 0;
          for (int k = 0; k < taps; k++) {
            float w = (float) t.w[j * taps + k];
            if (w != 0) {
              acc += w * src[sBase + t.idx[j * taps + k]];
            }
          }
          dst[dRow] = acc;
        } else {
          for (int k = 0; k < taps; k++) {
            float w = (float) t.w[j * taps + k];
            if (w == 0) {
              continue;
            }
            int sRow = sBase + t.idx[j * taps + k] * inner;
            for (int i = 0; i < inner; i++) {
              dst[dRow + i] += w * src[sRow + i];
            }
          }
        }
      }
    }
    return dst;
  }

  private static double[] pass(double[] src, long[] shape, Table t, double extra) {
    int a = t.axis;
    int outer = (int) ShapeArgs.product(shape, 0, a);
    int nIn = (int) shape[a];
    int inner = (int) ShapeArgs.product(shape, a + 1, shape.length);
    int nOut = t.nOut;
    int taps = t.taps;
    double[] dst = new double[outer * nOut * inner];
    for (int o = 0; o < outer; o++) {
      int sBase = o * nIn * inner;
      int dBase = o * nOut * inner;
      for (int j = 0; j < nOut; j++) {
        int dRow = dBase + j * inner;
        if (t.outside[j]) {
          Arrays.fill(dst, dRow, dRow + inner, extra);
          continue;
        }
        for (int k = 0; k < taps; k++) {
          double w = t.w[j * taps + k];
          if (w == 0) {
            continue;
          }
          int sRow = sBase + t.idx[j * taps + k] * inner;
          for (int i = 0; i < inner; i++) {
            dst[dRow + i] += w * src[sRow + i];
          }
        }
      }
    }
    return dst;
  }
}
