package dev.qdebug.bench;

import static dev.qdebug.TestModels.intAttr;
import static dev.qdebug.TestModels.ints;

import dev.qdebug.TestModels;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import java.util.Random;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Full-size networks with random weights, built in Java with the test graph builder (nothing
 * downloaded): ResNet-50, RepVGG-B2 in deploy form and MnasNet 1.0 at 224x224, MobileViT-S at
 * 256x256; batch normalization folded into the convolutions (as a deployed model has it), input
 * {@code [N,3,size,size]} with a symbolic batch, 1000 logits out.
 */
final class BenchModels {
  private BenchModels() {}

  enum Act {
    NONE,
    RELU,
    SILU
  }

  private static final class Builder {
    final TestModels.Graph g = TestModels.graph();
    final Random r = new Random(42);
    int k;

    float[] he(int n, int fanIn) {
      float[] v = new float[n];
      double sd = Math.sqrt(2.0 / fanIn);
      for (int i = 0; i < n; i++) {
        v[i] = (float) (r.nextGaussian() * sd);
      }
      return v;
    }

    /** Conv (+ bias) of {@code x}, {@code kernel}x{@code kernel}, then ReLU when {@code relu}. */
    String conv(String x, int cin, int cout, int kernel, int stride, boolean relu) {
      return conv(x, cin, cout, kernel, stride, 1, relu ? Act.RELU : Act.NONE);
    }

    /**
     * Conv (+ bias, the folded batch normalization) of {@code x} in {@code group} groups, then
     * {@code act}.
     */
    String conv(String x, int cin, int cout, int kernel, int stride, int group, Act act) {
      int id = k++;
      String w = "w" + id;
      String b = "b" + id;
      int fanIn = cin / group * kernel * kernel;
      g.initializer(w, he(cout * fanIn, fanIn), cout, cin / group, kernel, kernel);
      g.initializer(b, small(cout), cout);
      int p = kernel / 2;
      String y = "conv" + id;
      g.node(
          "Conv",
          "/conv" + id + "/Conv",
          new String[] {x, w, b},
          new String[] {y},
          ints("pads", p, p, p, p),
          ints("strides", stride, stride),
          ints("kernel_shape", kernel, kernel),
          intAttr("group", group));
      return act(y, act, "/conv" + id);
    }

    String act(String y, Act act, String scope) {
      switch (act) {
        case RELU -> {
          g.node("Relu", scope + "/Relu", new String[] {y}, new String[] {y + "_relu"});
          return y + "_relu";
        }
        case SILU -> {
          // SiLU as a torch export writes it: x * Sigmoid(x)
          g.node("Sigmoid", scope + "/Sigmoid", new String[] {y}, new String[] {y + "_sig"});
          g.node("Mul", scope + "/Mul", new String[] {y, y + "_sig"}, new String[] {y + "_silu"});
          return y + "_silu";
        }
        default -> {
          return y;
        }
      }
    }

    float[] small(int n) {
      float[] v = new float[n];
      for (int i = 0; i < n; i++) {
        v[i] = (float) (r.nextGaussian() * 0.01);
      }
      return v;
    }

    String add(String a, String b2, String scope) {
      String y = scope.replace('/', '_') + "_sum";
      g.node("Add", scope + "/Add", new String[] {a, b2}, new String[] {y});
      return y;
    }

    /** An int64 initializer (Reshape's shape, Gather's index). */
    String longs(String name, long[] values, long... dims) {
      g.raw(Tensors.toProto(name, Nd4j.createFromArray(values).reshape(dims)));
      return name;
    }

    /** A float scalar initializer. */
    String scalar(String name, float v) {
      g.raw(TestModels.floatTensor(name, new float[] {v}));
      return name;
    }

    String reshape(String x, String scope, long... shape) {
      String s = longs(scope.replace('/', '_') + "_shape", shape, shape.length);
      String y = scope.replace('/', '_') + "_out";
      g.node("Reshape", scope + "/Reshape", new String[] {x, s}, new String[] {y});
      return y;
    }

    String transpose(String x, String scope, long... perm) {
      String y = scope.replace('/', '_') + "_out";
      g.node("Transpose", scope + "/Transpose", new String[] {x}, new String[] {y}, ints("perm", perm));
      return y;
    }

    /** {@code x [.., in] @ W [in, out] + b}: a torch Linear as exported (MatMul, then Add). */
    String linear(String x, int in, int out, String scope, double sd) {
      String w = scope.replace('/', '_') + "_w";
      String b = scope.replace('/', '_') + "_b";
      float[] v = new float[in * out];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (r.nextGaussian() * sd);
      }
      g.initializer(w, v, in, out);
      g.initializer(b, small(out), out);
      String m = scope.replace('/', '_') + "_mm";
      g.node("MatMul", scope + "/MatMul", new String[] {x, w}, new String[] {m});
      return add(m, b, scope);
    }

    String layerNorm(String x, int d, String scope) {
      String sc = scope.replace('/', '_');
      float[] gamma = new float[d];
      for (int i = 0; i < d; i++) {
        gamma[i] = (float) (1 + r.nextGaussian() * 0.1);
      }
      g.initializer(sc + "_gamma", gamma, d);
      g.initializer(sc + "_beta", small(d), d);
      String y = sc + "_ln";
      g.node(
          "LayerNormalization",
          scope + "/LayerNormalization",
          new String[] {x, sc + "_gamma", sc + "_beta"},
          new String[] {y},
          intAttr("axis", -1),
          TestModels.floatAttr("epsilon", 1e-5f));
      return y;
    }

    String head(String x, int c, int classes) {
      g.node("GlobalAveragePool", "/pool/GlobalAveragePool", new String[] {x}, new String[] {"pooled"});
      g.node("Flatten", "/flatten/Flatten", new String[] {"pooled"}, new String[] {"flat"}, intAttr("axis", 1));
      g.initializer("fc_w", he(classes * c, c), classes, c);
      g.initializer("fc_b", new float[classes], classes);
      g.node("Gemm", "/fc/Gemm", new String[] {"flat", "fc_w", "fc_b"}, new String[] {"logits"}, intAttr("transB", 1));
      g.output("logits", -1, classes);
      return "logits";
    }
  }

  /** torchvision's ResNet-50 (bottleneck blocks 3, 4, 6, 3), batch normalization folded. */
  static ModelProto resnet50(int size) {
    Builder b = new Builder();
    b.g.input("input", -1, 3, size, size);
    String x = b.conv("input", 3, 64, 7, 2, true);
    b.g.node(
        "MaxPool",
        "/maxpool/MaxPool",
        new String[] {x},
        new String[] {"pool0"},
        ints("kernel_shape", 3, 3),
        ints("strides", 2, 2),
        ints("pads", 1, 1, 1, 1));
    x = "pool0";
    int cin = 64;
    int[] blocks = {3, 4, 6, 3};
    int[] width = {64, 128, 256, 512};
    int add = 0;
    for (int s = 0; s < 4; s++) {
      for (int i = 0; i < blocks[s]; i++) {
        int stride = i == 0 && s > 0 ? 2 : 1;
        int w = width[s];
        int cout = w * 4;
        String y = b.conv(x, cin, w, 1, 1, true);
        y = b.conv(y, w, w, 3, stride, true);
        y = b.conv(y, w, cout, 1, 1, false);
        String skip = i == 0 ? b.conv(x, cin, cout, 1, stride, false) : x;
        String sum = "add" + add;
        b.g.node("Add", "/add" + add + "/Add", new String[] {y, skip}, new String[] {sum});
        b.g.node("Relu", "/add" + add + "/Relu", new String[] {sum}, new String[] {sum + "_relu"});
        add++;
        x = sum + "_relu";
        cin = cout;
      }
    }
    b.head(x, cin, 1000);
    return b.g.proto();
  }

  /** RepVGG-B2 in deploy form: plain 3x3 conv + ReLU stages (1, 4, 6, 16, 1), widths a=2.5, b=5. */
  static ModelProto repvggB2(int size) {
    Builder b = new Builder();
    b.g.input("input", -1, 3, size, size);
    int[] blocks = {1, 4, 6, 16, 1};
    int[] width = {64, 160, 320, 640, 2560};
    String x = "input";
    int cin = 3;
    for (int s = 0; s < 5; s++) {
      for (int i = 0; i < blocks[s]; i++) {
        x = b.conv(x, cin, width[s], 3, i == 0 ? 2 : 1, true);
        cin = width[s];
      }
    }
    b.head(x, cin, 1000);
    return b.g.proto();
  }

  /**
   * torchvision's MnasNet 1.0 (depth multiplier 1.0): stem 3x3 conv 32 (stride 2), a depthwise
   * separable block to 16, inverted residual stacks (output channels, kernel, stride, expansion,
   * repeats) 24/3/2/3/3, 40/5/2/3/3, 80/5/2/6/3, 96/3/1/6/2, 192/5/2/6/4, 320/3/1/6/1, a 1x1 conv
   * to 1280, global average pool and a 1000-way classifier; ReLU throughout, batch normalization
   * folded into each convolution.
   */
  static ModelProto mnasnet(int size) {
    Builder b = new Builder();
    b.g.input("input", -1, 3, size, size);
    String x = b.conv("input", 3, 32, 3, 2, 1, Act.RELU);
    x = b.conv(x, 32, 32, 3, 1, 32, Act.RELU);
    x = b.conv(x, 32, 16, 1, 1, 1, Act.NONE);
    int cin = 16;
    int[][] stacks = {
      {24, 3, 2, 3, 3}, {40, 5, 2, 3, 3}, {80, 5, 2, 6, 3}, {96, 3, 1, 6, 2}, {192, 5, 2, 6, 4}, {320, 3, 1, 6, 1}
    };
    int add = 0;
    for (int[] st : stacks) {
      for (int i = 0; i < st[4]; i++) {
        int cout = st[0];
        int stride = i == 0 ? st[2] : 1;
        int mid = cin * st[3];
        String y = b.conv(x, cin, mid, 1, 1, 1, Act.RELU);
        y = b.conv(y, mid, mid, st[1], stride, mid, Act.RELU);
        y = b.conv(y, mid, cout, 1, 1, 1, Act.NONE);
        x = cin == cout && stride == 1 ? b.add(y, x, "/add" + add++) : y;
        cin = cout;
      }
    }
    x = b.conv(x, cin, 1280, 1, 1, 1, Act.RELU);
    b.head(x, 1280, 1000);
    return b.g.proto();
  }

  /**
   * MobileViT-S (Mehta and Rastegari, 2022; the layout of Apple's ml-cvnets): stem 3x3 conv 16
   * (stride 2); MobileNetV2 blocks (expansion 4) to 32, then 3 x 64 (the first with stride 2);
   * three stages of an MV2 block with stride 2 (to 96, 128, 160) followed by a MobileViT block
   * with transformer width d = 144, 192, 240, L = 2, 4, 3 layers, FFN 2d, 4 heads and 2x2
   * patches; a 1x1 conv to 640, global average pool and a 1000-way classifier. SiLU as x *
   * Sigmoid(x), batch normalization folded into the convolutions, the transformer pre-norm with
   * LayerNormalization, attention as MatMul/Softmax, unfolding and folding of patches by
   * Reshape/Transpose. {@code size} must be a multiple of 64.
   */
  static ModelProto mobilevitS(int size) {
    if (size % 64 != 0) {
      throw new IllegalArgumentException("MobileViT-S needs a size that is a multiple of 64: " + size);
    }
    Builder b = new Builder();
    b.g.input("input", -1, 3, size, size);
    String x = b.conv("input", 3, 16, 3, 2, 1, Act.SILU);
    x = mv2(b, x, 16, 32, 1);
    x = mv2(b, x, 32, 64, 2);
    x = mv2(b, x, 64, 64, 1);
    x = mv2(b, x, 64, 64, 1);
    int res = size / 4;
    int cin = 64;
    int[] out = {96, 128, 160};
    int[] dims = {144, 192, 240};
    int[] layers = {2, 4, 3};
    for (int s = 0; s < 3; s++) {
      x = mv2(b, x, cin, out[s], 2);
      res /= 2;
      x = mobileVitBlock(b, x, out[s], dims[s], layers[s], res, "/stage" + (s + 3));
      cin = out[s];
    }
    x = b.conv(x, cin, 640, 1, 1, 1, Act.SILU);
    b.head(x, 640, 1000);
    return b.g.opset(17).proto();
  }

  /** MobileNetV2 inverted residual, expansion 4, SiLU; residual when shapes agree. */
  private static String mv2(Builder b, String x, int cin, int cout, int stride) {
    int mid = cin * 4;
    String y = b.conv(x, cin, mid, 1, 1, 1, Act.SILU);
    y = b.conv(y, mid, mid, 3, stride, mid, Act.SILU);
    y = b.conv(y, mid, cout, 1, 1, 1, Act.NONE);
    return stride == 1 && cin == cout ? b.add(y, x, "/mv2_" + b.k) : y;
  }

  /**
   * A MobileViT block on {@code [N, c, res, res]}: local representation (3x3 conv, 1x1 conv to d),
   * unfold into 2x2 patches {@code [N*4, res*res/4, d]}, {@code layers} pre-norm transformer
   * layers, LayerNorm, fold back, 1x1 conv to c, concatenation with the block's input and a 3x3
   * fusion conv.
   */
  private static String mobileVitBlock(Builder b, String x, int c, int d, int layers, int res, String scope) {
    int heads = 4;
    int hd = d / heads;
    int ph = 2;
    int n = res / ph;
    int patches = n * n;
    String y = b.conv(x, c, c, 3, 1, 1, Act.SILU);
    y = b.conv(y, c, d, 1, 1, 1, Act.NONE);
    // unfold: [N, d, n, 2, n, 2] -> [N, 2, 2, n, n, d] -> [N*4, n*n, d]
    y = b.reshape(y, scope + "/unfold0", 0, d, n, ph, n, ph);
    y = b.transpose(y, scope + "/unfold1", 0, 3, 5, 2, 4, 1);
    y = b.reshape(y, scope + "/unfold2", -1, patches, d);
    double sd = Math.sqrt(1.0 / d);
    for (int l = 0; l < layers; l++) {
      String t = scope + "/layer" + l;
      // x + MHA(LN(x))
      String h = b.layerNorm(y, d, t + "/norm1");
      String qkv = b.linear(h, d, 3 * d, t + "/qkv", sd);
      qkv = b.reshape(qkv, t + "/qkv_split", 0, patches, 3, heads, hd);
      qkv = b.transpose(qkv, t + "/qkv_perm", 2, 0, 3, 1, 4); // [3, N*4, heads, P, hd]
      String[] qkvParts = new String[3];
      for (int i = 0; i < 3; i++) {
        // a scalar index: Gather drops the axis
        String idx = t.replace('/', '_') + "_idx" + i;
        b.g.raw(Tensors.toProto(idx, Nd4j.scalar((long) i)));
        qkvParts[i] = t.replace('/', '_') + "_qkv" + i;
        b.g.node(
            "Gather",
            t + "/Gather_" + i,
            new String[] {qkv, idx},
            new String[] {qkvParts[i]},
            intAttr("axis", 0));
      }
      String q = t.replace('/', '_') + "_qs";
      b.g.node("Mul", t + "/scale/Mul", new String[] {qkvParts[0], b.scalar(t.replace('/', '_') + "_scale", (float) (1 / Math.sqrt(hd)))}, new String[] {q});
      String kt = b.transpose(qkvParts[1], t + "/kT", 0, 1, 3, 2);
      String att = t.replace('/', '_') + "_att";
      b.g.node("MatMul", t + "/attn/MatMul", new String[] {q, kt}, new String[] {att});
      String sm = att + "_sm";
      b.g.node("Softmax", t + "/attn/Softmax", new String[] {att}, new String[] {sm}, intAttr("axis", -1));
      String ctx = t.replace('/', '_') + "_ctx";
      b.g.node("MatMul", t + "/ctx/MatMul", new String[] {sm, qkvParts[2]}, new String[] {ctx});
      String merged = b.transpose(ctx, t + "/merge0", 0, 2, 1, 3);
      merged = b.reshape(merged, t + "/merge1", 0, 0, d);
      String o = b.linear(merged, d, d, t + "/out_proj", sd);
      y = b.add(y, o, t + "/res1");
      // x + FFN(LN(x))
      h = b.layerNorm(y, d, t + "/norm2");
      h = b.linear(h, d, 2 * d, t + "/ffn1", sd);
      h = b.act(h, Act.SILU, t + "/ffn_act");
      h = b.linear(h, 2 * d, d, t + "/ffn2", Math.sqrt(1.0 / (2 * d)));
      y = b.add(y, h, t + "/res2");
    }
    y = b.layerNorm(y, d, scope + "/norm");
    // fold: [N*4, n*n, d] -> [N, 2, 2, n, n, d] -> [N, d, n, 2, n, 2] -> [N, d, res, res]
    y = b.reshape(y, scope + "/fold0", -1, ph, ph, n, n, d);
    y = b.transpose(y, scope + "/fold1", 0, 5, 3, 1, 4, 2);
    y = b.reshape(y, scope + "/fold2", 0, d, res, res);
    y = b.conv(y, d, c, 1, 1, 1, Act.SILU);
    String cat = scope.replace('/', '_') + "_cat";
    b.g.node("Concat", scope + "/Concat", new String[] {x, y}, new String[] {cat}, intAttr("axis", 1));
    return b.conv(cat, 2 * c, c, 3, 1, 1, Act.SILU);
  }
}
