package dev.qdebug.engine.ops;

import static org.bytedeco.dnnl.global.dnnl.*;

import dev.qdebug.engine.Workspaces;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.dnnl.const_dnnl_op_desc_t;
import org.bytedeco.dnnl.dnnl_convolution_desc_t;
import org.bytedeco.dnnl.dnnl_eltwise_desc_t;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_layer_normalization_desc_t;
import org.bytedeco.dnnl.dnnl_matmul_desc_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_post_ops;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOps;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * 2-D float convolutions called on oneDNN directly (the JavaCPP presets of oneDNN 2.5), for what
 * ND4J's {@code conv2d} cannot keep between calls: each convolution's primitive is created once per
 * input shape and kept, its weights are re-laid out into the blocked format the primitive wants
 * once per weight array (ND4J re-lays them out on every call), and the activation of a fused step
 * (a clamp: Relu, Clip; or SiLU) runs as the primitive's post-op while the output is still in
 * cache, instead of a second pass over it. Inputs are NCHW or channels-last ({@link
 * ChannelsLast}); outputs are channels-last. Float products by a matrix (Gemm, a MatMul's linear
 * layer) run here the same way ({@link Product}).
 *
 * <p>A clamp post-op gives the values of the convolution followed by the clamp, bit for bit: both
 * clamp the same float32 accumulator (so hooked runs and re-runs use it), except that a NaN comes
 * out as the lower bound (oneDNN clamps with max/min instructions; a NaN needs a NaN or an
 * infinity of both signs in a convolution's inputs, which the data checks refuse). SiLU differs
 * from ND4J's sigmoid in the last bits, as the fused SiLU step always has (plain forwards only).
 * {@code -D}{@value #PROPERTY}{@code =false} turns this path off (ND4J's ops run the convolutions
 * as before); so does a machine where the library does not load, which {@link #unavailable()}
 * explains. A shape oneDNN cannot take, or takes with its reference implementation only, runs on
 * ND4J's ops too.
 */
final class Dnnl {
  private Dnnl() {}

  /** System property: {@code false} runs convolutions and products on ND4J's ops instead. */
  static final String PROPERTY = "qdebug.dnnl";

  private static final Cleaner CLEANER = Cleaner.create();

  /** The CPU engine, or null when the library did not load. */
  private static final dnnl_engine ENGINE;

  /** Why the library is not used, or null when it is. */
  private static final String UNAVAILABLE;

  static {
    dnnl_engine engine = null;
    String why = null;
    try {
      engine = new dnnl_engine();
      check(dnnl_engine_create(engine, dnnl_cpu, 0), "engine");
    } catch (Throwable e) { // UnsatisfiedLinkError on a platform without the native library
      engine = null;
      why = "oneDNN did not load: " + e;
    }
    ENGINE = engine;
    UNAVAILABLE = why;
  }

  /**
   * A stream per thread (oneDNN streams are not for concurrent use), destroyed once its thread is
   * gone (a sweep's threads live for one sweep).
   */
  private static final ThreadLocal<Stream> STREAM = ThreadLocal.withInitial(Stream::new);

  private static final class Stream {
    final dnnl_stream stream = new dnnl_stream();

    Stream() {
      check(dnnl_stream_create(stream, ENGINE, dnnl_stream_default_flags), "stream");
      dnnl_stream s = stream;
      CLEANER.register(this, () -> dnnl_stream_destroy(s));
    }
  }

  /**
   * Whether convolutions, products, copies and normalizations run here: the library loaded and
   * {@value #PROPERTY} is not false.
   */
  static boolean enabled() {
    return ENGINE != null && !"false".equals(System.getProperty(PROPERTY));
  }

  /** Why the library is not used, or null when it loaded. */
  static String unavailable() {
    return UNAVAILABLE;
  }

  private static void check(int status, String what) {
    if (status != dnnl_success) {
      throw new IllegalStateException("oneDNN " + what + " failed with status " + status);
    }
  }

  /** A native address as a JavaCPP pointer (no ownership). */
  private static final class Address extends Pointer {
    Address(long a) {
      address = a;
    }
  }

  /** The address of {@code x}'s first value (a dense float array). */
  private static Pointer address(INDArray x) {
    return new Address(x.data().address() + x.offset() * x.dataType().width());
  }

  /**
   * {@code x}'s strides in values, 1 for its size-1 dimensions (never stepped over; ND4J may give
   * them any stride, 0 included).
   */
  private static long[] strides(INDArray x) {
    long[] st = x.stride().clone();
    for (int i = 0; i < st.length; i++) {
      if (x.size(i) == 1) {
        st[i] = 1;
      }
    }
    return st;
  }

  /** {@code v} as a list (a cache key's part: arrays compare by identity). */
  private static List<Long> list(long[] v) {
    return java.util.Arrays.stream(v).boxed().toList();
  }

  /** A float descriptor of {@code dims} with {@code strides} (in values). */
  private static dnnl_memory_desc_t strided(List<Long> dims, List<Long> strides) {
    long[] d = new long[dims.size()];
    long[] st = new long[dims.size()];
    for (int i = 0; i < d.length; i++) {
      d[i] = dims.get(i);
      st[i] = strides.get(i);
    }
    dnnl_memory_desc_t md = new dnnl_memory_desc_t();
    check(dnnl_memory_desc_init_by_strides(md, d.length, d, dnnl_f32, st), "memory descriptor");
    return md;
  }

  /** The row-major format tag of a rank. */
  private static int plainTag(int rank) {
    return switch (rank) {
      case 2 -> dnnl_ab;
      case 3 -> dnnl_abc;
      case 4 -> dnnl_abcd;
      case 5 -> dnnl_abcde;
      case 6 -> dnnl_abcdef;
      default -> throw new IllegalStateException("rank " + rank);
    };
  }

  private static dnnl_memory_desc_t md(long[] dims, int tag) {
    dnnl_memory_desc_t md = new dnnl_memory_desc_t();
    check(dnnl_memory_desc_init_by_tag(md, dims.length, dims, dnnl_f32, tag), "memory descriptor");
    return md;
  }

  /**
   * What a convolution primitive is made for: input {@code [n, c, h, w]} (NHWC in memory),
   * {@code m} output channels of {@code [oh, ow]}, a bias or not, kernel, strides, dilations, pads
   * (ONNX order: top, left, bottom, right) and groups.
   */
  record Shape(
      long n, long c, long h, long w, long m, long oh, long ow, boolean bias,
      long kh, long kw, long sh, long sw, long dh, long dw, long pt, long pl, long pb, long pr,
      int group) {}

  /**
   * What a convolution applies to its output before writing it: a clamp to [lo, hi] (Relu, Clip),
   * exact, or SiLU {@code x * sigmoid(x)}, which oneDNN computes with its own exponential (a float
   * forward's fused step, never a hooked run's).
   */
  record PostOp(boolean sum, boolean silu, boolean clamp, double lo, double hi, boolean relu) {
    /** A clamp to [lo, hi]; {@code relu}: the node is a Relu (ND4J's ReLU where oneDNN is off). */
    static PostOp clamp(double lo, double hi, boolean relu) {
      return new PostOp(false, false, true, lo, hi, relu);
    }

    /** SiLU. */
    static final PostOp SILU = new PostOp(false, true, false, 0, 0, false);

    /**
     * The output added to a tensor of its shape (a residual Add: the destination holds that
     * tensor before the convolution adds to it, exact), then {@code act} (null: none).
     */
    static PostOp sum(PostOp act) {
      return act == null
          ? new PostOp(true, false, false, 0, 0, false)
          : new PostOp(true, act.silu, act.clamp, act.lo, act.hi, act.relu);
    }

    /** The activation applied to {@code y} in place by ND4J's ops (where oneDNN is not used). */
    void applyInPlace(INDArray y) {
      if (silu) {
        Fusion.siluInPlace(y);
      } else if (clamp) {
        Fusion.clampInPlace(y, lo, hi, relu);
      }
    }
  }

  /** How many weight arrays a convolution or product keeps re-laid out ({@link Packs}). */
  static final int KEPT_WEIGHTS = 2;

  /** Weights {@code source} re-laid out as {@code md} says, in {@code values}. */
  private record Packed(INDArray source, dnnl_memory_desc_t md, INDArray values) {}

  /**
   * One node's weights in the layouts its primitives want: the last {@value #KEPT_WEIGHTS} weight
   * arrays seen, most recent first. A sweep alternates the float weights with a candidate's
   * fake-quantized ones, which one slot would re-lay out on every re-run. Safe for concurrent
   * runs (a lost race re-lays out once more).
   */
  static final class Packs {
    private final AtomicReference<Packed[]> kept = new AtomicReference<>(new Packed[0]);
    private final java.util.concurrent.atomic.AtomicLong packs = new java.util.concurrent.atomic.AtomicLong();

    /** {@code w} in the layout {@code p} wants: from the cache when {@code w} is the same array. */
    INDArray of(Primitive p, INDArray w) {
      Packed[] now = kept.get();
      for (Packed k : now) {
        if (k.source() == w && dnnl_memory_desc_equal(k.md(), p.weights) == 1) {
          if (k != now[0]) {
            kept.compareAndSet(now, new Packed[] {k, now[0]}); // a cache: a lost race is fine
          }
          return k.values();
        }
      }
      if (w.isAttached()) {
        // a weight made for this run only (a hook's fake-quantized copy): laid out in the run's
        // workspace and freed with it
        return p.reorderWeights(w);
      }
      INDArray v = Workspaces.outside(() -> p.reorderWeights(w));
      Packed made = new Packed(w, p.weights, v);
      kept.set(now.length == 0 ? new Packed[] {made} : new Packed[] {made, now[0]});
      packs.incrementAndGet();
      return v;
    }

    /** How many times weights were re-laid out and kept (for tests: a cache hit adds none). */
    long count() {
      return packs.get();
    }
  }

  /**
   * One convolution node's primitives, one per input shape, and its weights in the layout they
   * want, for the last weight array seen. Safe for concurrent runs (a sweep's threads).
   */
  static final class Convolution {
    private final PostOp post;
    private final Map<Shape, Primitive> primitives = new ConcurrentHashMap<>();
    /** The packed weights, shared with the same node's {@link #with} convolutions. */
    private final Packs packed;

    /** A convolution without post-op. */
    Convolution() {
      this(null, new Packs());
    }

    private Convolution(PostOp post, Packs packed) {
      this.post = post;
      this.packed = packed;
    }

    /**
     * This convolution with {@code post} applied to its output; it shares this one's packed
     * weights (a plan runs the fused step, and the plain one where a hook needs the output before
     * the activation).
     */
    Convolution with(PostOp post) {
      return new Convolution(post, packed);
    }

    /**
     * {@code y = conv(x, w) + b}, its post-op applied, written channels-last; null
     * where oneDNN has only its reference implementation for this shape (far slower than ND4J's
     * path). {@code x} is a float NCHW tensor (made channels-last first where it is not), {@code
     * w} float {@code [M, C/group, kH, kW]}, {@code b} float {@code [M]} or null; {@code g} the
     * 2-D geometry.
     */
    INDArray run(INDArray x, INDArray w, INDArray b, Window.Geometry g, int group) {
      return run(x, w, b, g, group, null);
    }

    /**
     * As {@link #run(INDArray, INDArray, INDArray, Window.Geometry, int)}, the output added to
     * {@code residual} (a convolution whose post-op sums); null also where {@code residual} is not
     * a float tensor of the output's shape.
     */
    INDArray run(
        INDArray x, INDArray w, INDArray b, Window.Geometry g, int group, INDArray residual) {
      long[] k = g.kernel();
      long[] st = g.strides();
      long[] d = g.dilations();
      long[] p = g.pads();
      long[] out = g.out();
      long m = w.size(0);
      Shape shape =
          new Shape(
              x.size(0), x.size(1), x.size(2), x.size(3), m, out[0], out[1], b != null,
              k[0], k[1], st[0], st[1], d[0], d[1], p[0], p[1], p[2], p[3], group);
      Primitive prim = primitives.computeIfAbsent(shape, s -> Threads.create(s, post));
      if (prim == Primitive.NONE) {
        return null;
      }
      // oneDNN's optimized convolutions want NHWC input with NHWC output (an NCHW input, such as
      // the image into a first convolution, gets only the reference implementation)
      INDArray src = ChannelsLast.storage(ChannelsLast.of(x));
      INDArray weights = packed.of(prim, w);
      INDArray bias = b == null ? null : FlatData.isPlain(b) ? b : b.dup('c');
      boolean sum = post != null && post.sum();
      if (sum && (residual == null || residual.dataType() != DataType.FLOAT
          || !java.util.Arrays.equals(residual.shape(), new long[] {x.size(0), m, out[0], out[1]}))) {
        return null;
      }
      INDArray y = Nd4j.createUninitialized(DataType.FLOAT, x.size(0), out[0], out[1], m);
      if (sum) {
        // the destination starts as the residual, in NHWC order; the post-op adds the output
        if (ChannelsLast.is(residual)) {
          y.assign(ChannelsLast.storage(residual));
        } else {
          ChannelsLast.view(y).assign(residual);
        }
      }
      prim.execute(src, weights, bias, y);
      return ChannelsLast.view(y);
    }

    /** How many times weights were re-laid out and kept (for tests: a cache hit adds none). */
    long packs() {
      return packed.count();
    }
  }

  /**
   * One Gemm or MatMul node's float products {@code [m, k] x [k, n]} (+ bias) on oneDNN's matmul:
   * one primitive per shape, the weights re-laid out once per weight array ({@link Packs}). ND4J's
   * {@code matmul} op ran MobileViT's token-wise linears ({@code [8192, 144] x [144, 432]}) at
   * 85 GFLOP/s, oneDNN at 216, and a classifier's {@code [1, 1280] x [1280, 1000]} in 139 us
   * against 65 (2026-12-08, this machine, in a loop). Each output value is a sum in float of the k products in an order
   * oneDNN chooses: not ND4J's bits, within rounding of ONNX Runtime's.
   */
  static final class Product {
    private final Map<ProductShape, Primitive> primitives = new ConcurrentHashMap<>();
    private final Packs packed = new Packs();

    /**
     * {@code a b + bias} as a new row-major {@code [m, n]} array, or null where oneDNN cannot run
     * it (then ND4J's ops do). {@code a}: float {@code [m, k]}; {@code b}: float, {@code [k, n]},
     * or {@code [n, k]} when {@code transposed}, as stored (a plain array, else copied); {@code
     * bias}: float {@code [n]} or {@code [1, n]}, or null.
     */
    INDArray run(INDArray a, INDArray b, boolean transposed, INDArray bias) {
      if (a.dataType() != DataType.FLOAT || b.dataType() != DataType.FLOAT
          || (bias != null && (bias.dataType() != DataType.FLOAT || bias.length() != (transposed ? b.size(0) : b.size(1))))
          || a.rank() != 2 || b.rank() != 2 || a.isEmpty() || b.isEmpty()) {
        return null;
      }
      long m = a.size(0);
      long k = a.size(1);
      long n = transposed ? b.size(0) : b.size(1);
      if ((transposed ? b.size(1) : b.size(0)) != k) {
        return null;
      }
      ProductShape shape = new ProductShape(m, k, n, transposed, bias != null);
      Primitive prim = primitives.computeIfAbsent(shape, Threads::create);
      if (prim == Primitive.NONE) {
        return null;
      }
      INDArray src = FlatData.isPlain(a) ? a : a.dup('c');
      INDArray weights = packed.of(prim, b);
      INDArray bi = bias == null ? null : FlatData.isPlain(bias) ? bias : bias.dup('c');
      INDArray y = Nd4j.createUninitialized(DataType.FLOAT, m, n);
      prim.execute(src, weights, bi, y);
      return y;
    }

    /** How many times weights were re-laid out and kept (for tests). */
    long packs() {
      return packed.count();
    }
  }

  /**
   * One MatMul node's batched float products of two computed tensors (attention's {@code q k^T}
   * and {@code softmax(.) v}) on oneDNN's matmul, both read where they lie (a transposed view
   * included): one primitive per shapes and strides. ND4J's batched {@code matmul} took 11-12 ms
   * per attention product of MobileViT-S's third stage at batch 8.
   */
  static final class Batched {
    private final Map<BatchedShape, Primitive> primitives = new ConcurrentHashMap<>();

    /**
     * {@code a b} as a new row-major array, or null where oneDNN cannot run it: both float, rank
     * 3 to 6, the same batch dimensions, every stride positive.
     */
    INDArray run(INDArray a, INDArray b) {
      int r = a.rank();
      if (a.dataType() != DataType.FLOAT || b.dataType() != DataType.FLOAT || r < 3 || r > 6
          || b.rank() != r || a.isEmpty() || b.isEmpty() || a.size(r - 1) != b.size(r - 2)) {
        return null;
      }
      for (int i = 0; i < r - 2; i++) {
        if (a.size(i) != b.size(i)) {
          return null;
        }
      }
      long[] as = strides(a);
      long[] bs = strides(b);
      for (int i = 0; i < r; i++) {
        if (as[i] <= 0 || bs[i] <= 0) {
          return null;
        }
      }
      BatchedShape key = new BatchedShape(list(a.shape()), list(as), list(b.shape()), list(bs));
      Primitive prim = primitives.computeIfAbsent(key, Threads::create);
      if (prim == Primitive.NONE) {
        return null;
      }
      long[] out = a.shape().clone();
      out[r - 1] = b.size(r - 1);
      INDArray y = Nd4j.createUninitialized(DataType.FLOAT, out);
      prim.execute(a, b, null, y);
      return y;
    }
  }

  /**
   * A thread's scratch memory for oneDNN, grown to the largest a primitive asked for and kept
   * (a few MiB per thread at most on the models measured), 64-byte aligned.
   */
  private static final class Scratch {
    private static final ThreadLocal<Scratch> OF_THREAD = ThreadLocal.withInitial(Scratch::new);
    private BytePointer block;
    private long bytes;

    static Pointer get(long need) {
      Scratch s = OF_THREAD.get();
      if (s.bytes < need) {
        if (s.block != null) {
          s.block.close();
        }
        s.block = new BytePointer(need + 64);
        s.bytes = need;
      }
      long a = s.block.address();
      return new Address((a + 63) & ~63L);
    }
  }

  /** What an element-wise primitive is made for. */
  private record EltwiseKey(int algorithm, float alpha, float beta, long length) {}

  /** Element-wise primitives by key ({@link #cached}). */
  private static final Map<EltwiseKey, Simple> ELTWISE = new ConcurrentHashMap<>();

  /** How many primitives each of the element-wise, copy and normalization caches keeps. */
  private static final int ELTWISE_KEPT = 256;

  /** Up to this many values an element-wise primitive runs on the calling thread only. */
  static final long ELTWISE_ONE_THREAD = 1 << 16;

  /**
   * The primitive for {@code key} from {@code cache}, made by {@code make} on first use; null where
   * oneDNN could not make it (remembered: not tried again). A cache past {@value #ELTWISE_KEPT}
   * entries (the shapes of many runs) is cleared first; its primitives are destroyed once no thread
   * runs them ({@link Simple#run}).
   */
  private static <K> Simple cached(Map<K, Simple> cache, K key, java.util.function.Function<K, Simple> make) {
    Simple p = cache.get(key);
    if (p == null) {
      if (cache.size() >= ELTWISE_KEPT) {
        cache.clear();
      }
      p = cache.computeIfAbsent(key, k -> Simple.orNone(() -> make.apply(k)));
    }
    return p == Simple.NONE ? null : p;
  }

  /**
   * The logistic sigmoid {@code 1 / (1 + exp(-x))} of a dense float array into a new one of its
   * shape, by oneDNN's vectorized kernel (ND4J's takes 2.9 ns per value: 28 % of a MobileViT-S
   * forward; oneDNN's exponential differs from ND4J's in the last bits); null where {@code x} is
   * not a plain float array or oneDNN is off.
   */
  static INDArray sigmoid(INDArray x) {
    return eltwise(dnnl_eltwise_logistic, 0f, 0f, x);
  }

  private static INDArray eltwise(int algorithm, float alpha, float beta, INDArray x) {
    if (!enabled() || x.dataType() != DataType.FLOAT || x.isEmpty() || !FlatData.isPlain(x)) {
      return null;
    }
    Simple e =
        cached(
            ELTWISE,
            new EltwiseKey(algorithm, alpha, beta, x.length()),
            k -> {
              dnnl_memory_desc_t md = md(new long[] {k.length()}, dnnl_x);
              dnnl_eltwise_desc_t desc = new dnnl_eltwise_desc_t();
              check(
                  dnnl_eltwise_forward_desc_init(
                      desc, dnnl_forward_inference, k.algorithm(), md, k.alpha(), k.beta()),
                  "element-wise descriptor");
              return Simple.create(
                  "element-wise " + k, k.length() <= ELTWISE_ONE_THREAD,
                  new dnnl_memory_desc_t[] {md, md}, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST},
                  (pd, attr) ->
                      dnnl_primitive_desc_create(pd, new const_dnnl_op_desc_t(desc), attr, ENGINE, null));
            });
    if (e == null) {
      return null;
    }
    INDArray y = x.ulike();
    e.run(x, y);
    return y;
  }

  /** What a copy into row-major order is made for: the source's dimensions and strides. */
  private record CopyKey(List<Long> dims, List<Long> strides) {}

  /** Copy primitives by key ({@link #cached}). */
  private static final Map<CopyKey, Simple> COPIES = new ConcurrentHashMap<>();

  /**
   * A row-major copy of the float view {@code x} (a permuted tensor: Transpose) by oneDNN's
   * re-layout, or null where {@code x} is not float, of rank 2 to 6 with positive strides, or
   * oneDNN is off. ND4J's strided copy took 1.2 ms per MobileViT-S Transpose at batch 8.
   */
  static INDArray dense(INDArray x) {
    int r = x.rank();
    if (!enabled() || x.dataType() != DataType.FLOAT || x.isEmpty() || r < 2 || r > 6) {
      return null;
    }
    long[] st = strides(x);
    for (int i = 0; i < r; i++) {
      if (st[i] <= 0) {
        return null;
      }
    }
    Simple c =
        cached(
            COPIES,
            new CopyKey(list(x.shape()), list(st)),
            k -> {
              dnnl_memory_desc_t from = strided(k.dims(), k.strides());
              dnnl_memory_desc_t to = md(x.shape(), plainTag(r));
              return Simple.create(
                  "copy " + k, x.length() <= ELTWISE_ONE_THREAD,
                  new dnnl_memory_desc_t[] {from, to}, new int[] {DNNL_ARG_FROM, DNNL_ARG_TO},
                  (pd, attr) -> dnnl_reorder_primitive_desc_create(pd, from, ENGINE, to, ENGINE, attr));
            });
    if (c == null) {
      return null;
    }
    INDArray y = Nd4j.createUninitialized(DataType.FLOAT, x.shape());
    c.run(x, y);
    return y;
  }

  /**
   * A primitive over arrays of fixed descriptors (element-wise, re-layout, normalization), on the
   * calling thread only when small ({@link Threads}), with the thread's scratch memory.
   */
  private static final class Simple {
    private final dnnl_primitive primitive;
    private final boolean oneThread;
    private final ThreadLocal<Call> call;

    /** What a cache holds where oneDNN could not make the primitive (ND4J's ops run it). */
    static final Simple NONE = new Simple(null, false, null);

    private Simple(dnnl_primitive primitive, boolean oneThread, ThreadLocal<Call> call) {
      this.primitive = primitive;
      this.oneThread = oneThread;
      this.call = call;
      if (primitive != null) {
        CLEANER.register(this, () -> dnnl_primitive_destroy(primitive));
      }
    }

    /** {@code make()}, or {@link #NONE} where oneDNN cannot make it. */
    static Simple orNone(java.util.function.Supplier<Simple> make) {
      try {
        return make.get();
      } catch (IllegalStateException e) {
        return NONE;
      }
    }

    /**
     * The primitive {@code make} describes (it fills in the primitive descriptor from the
     * attributes and returns oneDNN's status), created on one thread when {@code oneThread}
     * ({@link Threads}); the arrays passed to {@link #run} are those of {@code mds}, as arguments
     * {@code ids}.
     */
    static Simple create(
        String what, boolean oneThread, dnnl_memory_desc_t[] mds, int[] ids,
        java.util.function.BiFunction<dnnl_primitive_desc, dnnl_primitive_attr, Integer> make) {
      Simple[] made = new Simple[1];
      Threads.on(
          oneThread,
          () -> {
            dnnl_primitive_attr attr = Primitive.attributes();
            dnnl_primitive_desc pd = new dnnl_primitive_desc();
            try {
              check(make.apply(pd, attr), what);
              dnnl_memory_desc_t scratch =
                  Primitive.copy(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
              dnnl_primitive p = new dnnl_primitive();
              check(dnnl_primitive_create(p, pd), what);
              made[0] =
                  new Simple(p, oneThread, ThreadLocal.withInitial(() -> new Call(p, scratch, mds, ids)));
            } finally {
              if (!pd.isNull()) {
                dnnl_primitive_desc_destroy(pd);
              }
              dnnl_primitive_attr_destroy(attr);
            }
          });
      return made[0];
    }

    void run(INDArray... a) {
      Threads.on(oneThread, () -> call.get().execute(a));
      // the cleaner destroys the primitive with this object, which a cache may have dropped:
      // reachable until oneDNN is done
      Reference.reachabilityFence(this);
    }
  }

  /** What a layer normalization primitive is made for. */
  private record NormKey(long rows, long n, float epsilon, boolean shift) {}

  /** Layer normalization primitives by key ({@link #cached}). */
  private static final Map<NormKey, Simple> NORMS = new ConcurrentHashMap<>();

  /**
   * Layer normalization of each row of the plain float {@code x} {@code [rows, n]}: {@code (x -
   * mean) / sqrt(var + epsilon) * scale + shift} (population variance) by oneDNN, into a new array;
   * {@code scale} and {@code shift} (or null) plain float {@code [n]}. Null where oneDNN is off or
   * an array does not fit. ND4J's element-wise ops took 2 ms per MobileViT-S layer norm at batch 8.
   */
  static INDArray layerNorm(INDArray x, INDArray scale, INDArray shift, float epsilon) {
    if (!enabled() || x.rank() != 2 || x.dataType() != DataType.FLOAT || x.isEmpty()
        || !FlatData.isPlain(x) || !fits(scale, x.size(1)) || (shift != null && !fits(shift, x.size(1)))) {
      return null;
    }
    Simple norm =
        cached(
            NORMS,
            new NormKey(x.size(0), x.size(1), epsilon, shift != null),
            k -> {
              dnnl_memory_desc_t data = md(new long[] {k.rows(), k.n()}, dnnl_ab);
              dnnl_memory_desc_t stats = md(new long[] {k.rows()}, dnnl_x);
              dnnl_memory_desc_t params = md(new long[] {k.n()}, dnnl_x);
              dnnl_layer_normalization_desc_t desc = new dnnl_layer_normalization_desc_t();
              check(
                  dnnl_layer_normalization_forward_desc_init(
                      desc, dnnl_forward_inference, data, stats, k.epsilon(),
                      dnnl_use_scale | (k.shift() ? dnnl_use_shift : 0)),
                  "layer normalization descriptor " + k);
              dnnl_memory_desc_t[] mds =
                  k.shift()
                      ? new dnnl_memory_desc_t[] {data, params, params, data}
                      : new dnnl_memory_desc_t[] {data, params, data};
              int[] ids =
                  k.shift()
                      ? new int[] {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DST}
                      : new int[] {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_DST};
              return Simple.create(
                  "layer normalization " + k, k.rows() * k.n() <= ELTWISE_ONE_THREAD, mds, ids,
                  (pd, attr) ->
                      dnnl_primitive_desc_create(pd, new const_dnnl_op_desc_t(desc), attr, ENGINE, null));
            });
    if (norm == null) {
      return null;
    }
    INDArray y = x.ulike();
    if (shift != null) {
      norm.run(x, scale, shift, y);
    } else {
      norm.run(x, scale, y);
    }
    return y;
  }

  /** Whether {@code p} is a plain float array of {@code n} values. */
  private static boolean fits(INDArray p, long n) {
    return p != null && p.dataType() == DataType.FLOAT && p.length() == n && FlatData.isPlain(p);
  }

  /**
   * Small convolutions on the calling thread only. oneDNN runs each primitive as OpenMP parallel
   * regions on all cores, and with {@code OMP_WAIT_POLICY=PASSIVE} (which this project sets: on 2
   * cores spinning threads slow everything else) each region wakes the sleeping threads first:
   * about 60 us per call, measured on 2 cores, more than a small convolution's arithmetic (a 1x1
   * convolution of 64 channels at 28x28 took 130 us on two threads, 83 us on one). A primitive
   * whose work is below {@value #ONE_THREAD_FLOPS} floating-point operations is created and run
   * with OpenMP's thread count of the calling thread set to 1 (oneDNN sizes its work split when the
   * primitive is created), then restored; {@code -Dqdebug.dnnl.oneThreadFlops=N} changes the bound.
   */
  static final class Threads {
    private Threads() {}

    static final long ONE_THREAD_FLOPS = 8_000_000;

    private static final long BOUND = Long.getLong("qdebug.dnnl.oneThreadFlops", ONE_THREAD_FLOPS);

    /**
     * The primitive for {@code s}, on one thread when its work is small; {@link Primitive#NONE}
     * when oneDNN cannot make one, or only its reference implementation.
     */
    static Primitive create(Shape s, PostOp post) {
      long flops = 2 * s.n() * s.oh() * s.ow() * s.m() * (s.c() / s.group()) * s.kh() * s.kw();
      return create(flops, () -> Descriptors.convolution(s), post, "convolution " + s);
    }

    /** The product primitive for {@code s}, as {@link #create(Shape, PostOp)}. */
    static Primitive create(ProductShape s) {
      return create(2 * s.m() * s.k() * s.n(), () -> Descriptors.product(s), null, "product " + s);
    }

    /** The batched product primitive for {@code s}, as {@link #create(Shape, PostOp)}. */
    static Primitive create(BatchedShape s) {
      return create(s.flops(), () -> Descriptors.batched(s), null, "batched product " + s);
    }

    private static Primitive create(
        long flops, java.util.function.Supplier<Descriptors> d, PostOp post, String what) {
      boolean one = flops < BOUND;
      Primitive[] made = new Primitive[1];
      try {
        on(one, () -> made[0] = new Primitive(d.get(), post, one, what));
      } catch (IllegalStateException e) {
        return Primitive.NONE; // e.g. unimplemented for this shape: ND4J's ops run it
      }
      return made[0].primitive == null ? Primitive.NONE : made[0];
    }

    /** Runs {@code body} with the calling thread's OpenMP count at 1 when {@code one}, restored. */
    static void on(boolean one, Runnable body) {
      if (!one) {
        body.run();
        return;
      }
      int before = single();
      try {
        body.run();
      } finally {
        restore(before);
      }
    }

    /** Sets the calling thread's OpenMP thread count to 1; returns the count before. */
    private static int single() {
      NativeOps ops = NativeOpsHolder.getInstance().getDeviceNativeOps();
      int before = ops.ompGetMaxThreads();
      ops.setOmpNumThreads(1);
      return before;
    }

    private static void restore(int before) {
      NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(before);
    }
  }

  /**
   * What a product primitive is made for: {@code [m, k]} times {@code [k, n]} weights (stored
   * {@code [n, k]} when {@code transposed}), plus a bias {@code [n]} or not.
   */
  record ProductShape(long m, long k, long n, boolean transposed, boolean bias) {}

  /**
   * What a batched product primitive is made for: {@code a} {@code [batch..., m, k]} times {@code
   * b} {@code [batch..., k, n]}, each with its strides as it lies in memory (a transposed view is
   * read in place), equal batch dimensions.
   */
  record BatchedShape(List<Long> a, List<Long> aStrides, List<Long> b, List<Long> bStrides) {
    long flops() {
      long f = 2 * b.get(b.size() - 1);
      for (long d : a) {
        f *= d;
      }
      return f;
    }
  }

  /**
   * A primitive's memory descriptors as the caller's arrays hold them (the weights' layout left to
   * oneDNN) and its operation descriptor ({@code op}, kept here so that it stays allocated until
   * the primitive is made).
   */
  record Descriptors(
      dnnl_memory_desc_t src, dnnl_memory_desc_t userWeights, dnnl_memory_desc_t bias,
      dnnl_memory_desc_t dst, Pointer op) {
    /** A convolution: NHWC input and output, OIHW (GOIHW) weights. */
    static Descriptors convolution(Shape s) {
      dnnl_memory_desc_t src = md(new long[] {s.n(), s.c(), s.h(), s.w()}, dnnl_nhwc);
      int g = s.group();
      long[] wd =
          g == 1
              ? new long[] {s.m(), s.c(), s.kh(), s.kw()}
              : new long[] {g, s.m() / g, s.c() / g, s.kh(), s.kw()};
      dnnl_memory_desc_t userWeights = md(wd, g == 1 ? dnnl_oihw : dnnl_goihw);
      dnnl_memory_desc_t bias = s.bias() ? md(new long[] {s.m()}, dnnl_x) : null;
      dnnl_memory_desc_t dst = md(new long[] {s.n(), s.m(), s.oh(), s.ow()}, dnnl_nhwc);
      dnnl_convolution_desc_t desc = new dnnl_convolution_desc_t();
      check(
          dnnl_dilated_convolution_forward_desc_init(
              desc, dnnl_forward_inference, dnnl_convolution_direct, src,
              md(wd, dnnl_format_tag_any), bias, dst, new long[] {s.sh(), s.sw()},
              new long[] {s.dh() - 1, s.dw() - 1}, new long[] {s.pt(), s.pl()},
              new long[] {s.pb(), s.pr()}),
          "convolution descriptor " + s);
      return new Descriptors(src, userWeights, bias, dst, desc);
    }

    /** A batched product: the operands as they lie in memory, a row-major output. */
    static Descriptors batched(BatchedShape s) {
      dnnl_memory_desc_t src = strided(s.a(), s.aStrides());
      dnnl_memory_desc_t weights = strided(s.b(), s.bStrides());
      long[] out = new long[s.a().size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = s.a().get(i);
      }
      out[out.length - 1] = s.b().get(s.b().size() - 1);
      dnnl_memory_desc_t dst = md(out, plainTag(out.length));
      dnnl_matmul_desc_t desc = new dnnl_matmul_desc_t();
      check(dnnl_matmul_desc_init(desc, src, weights, null, dst), "batched product descriptor " + s);
      return new Descriptors(src, weights, null, dst, desc);
    }

    /** A product: row-major input and output, the bias as one row. */
    static Descriptors product(ProductShape s) {
      dnnl_memory_desc_t src = md(new long[] {s.m(), s.k()}, dnnl_ab);
      long[] wd = {s.k(), s.n()};
      dnnl_memory_desc_t userWeights = md(wd, s.transposed() ? dnnl_ba : dnnl_ab);
      dnnl_memory_desc_t bias = s.bias() ? md(new long[] {1, s.n()}, dnnl_ab) : null;
      dnnl_memory_desc_t dst = md(new long[] {s.m(), s.n()}, dnnl_ab);
      dnnl_matmul_desc_t desc = new dnnl_matmul_desc_t();
      check(
          dnnl_matmul_desc_init(desc, src, md(wd, dnnl_format_tag_any), bias, dst),
          "product descriptor " + s);
      return new Descriptors(src, userWeights, bias, dst, desc);
    }
  }

  /** A created convolution or product primitive, its memory descriptors and its weights' re-layout. */
  static final class Primitive {
    final dnnl_memory_desc_t src;
    final dnnl_memory_desc_t userWeights;
    final dnnl_memory_desc_t weights;
    final dnnl_memory_desc_t bias;
    final dnnl_memory_desc_t dst;
    final dnnl_primitive primitive;
    final dnnl_primitive reorder; // user weights -> weights; null when they are the same
    final long weightValues;
    /** The scratch memory the convolution and the weights' re-layout need per execution. */
    final dnnl_memory_desc_t scratchpad;
    final dnnl_memory_desc_t reorderScratchpad;
    /** Whether this convolution runs on the calling thread only ({@link Threads}). */
    final boolean oneThread;

    /** What {@link Threads#create} gives where ND4J's ops must run the convolution. */
    static final Primitive NONE = new Primitive();

    private Primitive() {
      src = userWeights = weights = bias = dst = scratchpad = reorderScratchpad = null;
      primitive = reorder = null;
      weightValues = 0;
      oneThread = false;
    }

    /**
     * The primitive {@code d} describes; its {@link #primitive} is null where oneDNN offers only
     * its reference implementation (far slower than ND4J's path).
     *
     * @throws IllegalStateException where oneDNN cannot make it
     */
    Primitive(Descriptors d, PostOp post, boolean oneThread, String what) {
      this.oneThread = oneThread;
      src = d.src();
      userWeights = d.userWeights();
      bias = d.bias();
      dst = d.dst();
      dnnl_primitive_attr attr = attributes();
      dnnl_post_ops ops = null;
      dnnl_primitive_desc pd = new dnnl_primitive_desc();
      dnnl_primitive conv = null;
      boolean reference;
      try {
        if (post != null) {
          ops = new dnnl_post_ops();
          check(dnnl_post_ops_create(ops), "post-ops");
          if (post.sum()) {
            check(dnnl_post_ops_append_sum(ops, 1f), "sum post-op");
          }
          if (post.silu()) {
            check(dnnl_post_ops_append_eltwise(ops, 1f, dnnl_eltwise_swish, 1f, 0f), "post-op");
          } else if (post.clamp()) {
            check(
                dnnl_post_ops_append_eltwise(
                    ops, 1f, dnnl_eltwise_clip, (float) post.lo(), (float) post.hi()),
                "post-op");
          }
          check(dnnl_primitive_attr_set_post_ops(attr, ops), "post-ops");
        }
        check(
            dnnl_primitive_desc_create(pd, new const_dnnl_op_desc_t(d.op()), attr, ENGINE, null),
            what);
        weights = copy(dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0));
        PointerPointer<BytePointer> impl = new PointerPointer<>(1);
        check(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl), "implementation");
        reference = impl.getString(0).startsWith("ref");
        scratchpad = copy(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
        if (!reference) {
          conv = new dnnl_primitive();
          check(dnnl_primitive_create(conv, pd), what);
        }
      } finally {
        Reference.reachabilityFence(d); // its descriptors' memory is read until here
        if (!pd.isNull()) {
          dnnl_primitive_desc_destroy(pd);
        }
        if (ops != null) {
          dnnl_post_ops_destroy(ops);
        }
        dnnl_primitive_attr_destroy(attr);
      }
      weightValues = dnnl_memory_desc_get_size(weights) / Float.BYTES;
      dnnl_primitive re = null;
      dnnl_memory_desc_t reScratch = null;
      if (!reference && dnnl_memory_desc_equal(userWeights, weights) != 1) {
        dnnl_primitive_desc rpd = new dnnl_primitive_desc();
        dnnl_primitive_attr rattr = attributes();
        try {
          check(
              dnnl_reorder_primitive_desc_create(rpd, userWeights, ENGINE, weights, ENGINE, rattr),
              "weight re-layout");
          reScratch = copy(dnnl_primitive_desc_query_md(rpd, dnnl_query_scratchpad_md, 0));
          re = new dnnl_primitive();
          check(dnnl_primitive_create(re, rpd), "weight re-layout");
        } catch (RuntimeException e) {
          dnnl_primitive_destroy(conv); // not yet owned by a cleaner
          throw e;
        } finally {
          if (!rpd.isNull()) {
            dnnl_primitive_desc_destroy(rpd);
          }
          dnnl_primitive_attr_destroy(rattr);
        }
      }
      primitive = conv;
      reorder = re;
      reorderScratchpad = reScratch;
      if (conv != null) {
        dnnl_primitive c = conv;
        dnnl_primitive r = re;
        CLEANER.register(
            this,
            () -> {
              dnnl_primitive_destroy(c);
              if (r != null) {
                dnnl_primitive_destroy(r);
              }
            });
      }
    }

    /**
     * Attributes with the scratch memory passed at each execution: oneDNN's own (one per
     * primitive) would be shared by a sweep's threads running the same primitive at once.
     */
    static dnnl_primitive_attr attributes() {
      dnnl_primitive_attr attr = new dnnl_primitive_attr();
      check(dnnl_primitive_attr_create(attr), "attributes");
      check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "attributes");
      return attr;
    }

    /** A copy of {@code md}, which lives in a primitive descriptor destroyed after creation. */
    static dnnl_memory_desc_t copy(dnnl_memory_desc_t md) {
      dnnl_memory_desc_t c = new dnnl_memory_desc_t();
      Pointer.memcpy(c, md, c.sizeof());
      return c;
    }

    /** {@code w} (as the user holds it, copied dense first if it is not) in the layout of {@link #weights}. */
    INDArray reorderWeights(INDArray w) {
      INDArray dense = FlatData.isPlain(w) ? w : w.dup('c');
      if (reorder == null) {
        return dense;
      }
      INDArray v = Nd4j.createUninitialized(DataType.FLOAT, Math.max(1, weightValues));
      reorderCall.get().execute(dense, v);
      return v;
    }

    /** Runs the convolution: {@code src}, {@code w} (re-laid out), {@code b} (or null) into {@code y}. */
    void execute(INDArray x, INDArray w, INDArray b, INDArray y) {
      Threads.on(
          oneThread,
          () -> {
            if (b == null) {
              call.get().execute(x, w, y);
            } else {
              call.get().execute(x, w, b, y);
            }
          });
      Reference.reachabilityFence(this); // its cleaner destroys the primitive
    }

    /** This thread's argument list for the convolution (and one for the weights' re-layout). */
    private final ThreadLocal<Call> call = ThreadLocal.withInitial(this::newCall);

    private final ThreadLocal<Call> reorderCall = ThreadLocal.withInitial(this::newReorderCall);

    private Call newCall() {
      return bias == null
          ? new Call(primitive, scratchpad, new dnnl_memory_desc_t[] {src, weights, dst},
              DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST)
          : new Call(primitive, scratchpad, new dnnl_memory_desc_t[] {src, weights, bias, dst},
              DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST);
    }

    private Call newReorderCall() {
      return new Call(reorder, reorderScratchpad, new dnnl_memory_desc_t[] {userWeights, weights},
          DNNL_ARG_FROM, DNNL_ARG_TO);
    }
  }

  /**
   * One thread's executions of one primitive: its memory objects and argument list made once, the
   * arrays' addresses set at each call (creating them per call cost more than a small
   * convolution). Destroyed when the thread or the primitive is gone.
   */
  private static final class Call {
    private final dnnl_primitive primitive;
    private final dnnl_memory[] memory;
    private final dnnl_exec_arg_t args;
    private final long scratchBytes;

    Call(dnnl_primitive primitive, dnnl_memory_desc_t scratch, dnnl_memory_desc_t[] mds, int... ids) {
      this.primitive = primitive;
      scratchBytes = scratch == null ? 0 : dnnl_memory_desc_get_size(scratch);
      int n = mds.length + (scratchBytes > 0 ? 1 : 0);
      memory = new dnnl_memory[n];
      args = new dnnl_exec_arg_t(n);
      for (int i = 0; i < n; i++) {
        memory[i] = new dnnl_memory();
        check(dnnl_memory_create(memory[i], i < mds.length ? mds[i] : scratch, ENGINE, null), "memory");
        args.position(i).arg(i < mds.length ? ids[i] : DNNL_ARG_SCRATCHPAD).memory(memory[i]);
      }
      args.position(0);
      dnnl_memory[] m = memory;
      dnnl_exec_arg_t a = args;
      CLEANER.register(
          this,
          () -> {
            for (dnnl_memory x : m) {
              dnnl_memory_destroy(x);
            }
            a.close();
          });
    }

    /** Executes the primitive with {@code a} as its arguments, in the order they were declared. */
    void execute(INDArray... a) {
      for (int i = 0; i < a.length; i++) {
        check(dnnl_memory_set_data_handle(memory[i], address(a[i])), "memory");
      }
      if (scratchBytes > 0) {
        check(dnnl_memory_set_data_handle(memory[a.length], Scratch.get(scratchBytes)), "memory");
      }
      dnnl_stream s = STREAM.get().stream;
      check(dnnl_primitive_execute(primitive, s, memory.length, args), "execution");
      check(dnnl_stream_wait(s), "execution");
      // oneDNN holds only the addresses: the arrays (and ND4J's memory under them, freed when an
      // array outside a workspace is collected) must stay reachable until it is done
      Reference.reachabilityFence(a);
    }
  }
}
