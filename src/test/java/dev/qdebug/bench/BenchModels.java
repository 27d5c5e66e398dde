package dev.qdebug.bench;

import static dev.qdebug.TestModels.intAttr;
import static dev.qdebug.TestModels.ints;

import dev.qdebug.TestModels;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import java.util.Random;

/**
 * Full-size networks with random weights, built in Java with the test graph builder (nothing
 * downloaded): ResNet-50 and RepVGG-B2 in deploy form, 224x224, batch normalization folded into
 * the convolutions (as a deployed model has it), input {@code [N,3,224,224]} with a symbolic batch.
 */
final class BenchModels {
  private BenchModels() {}

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
      int id = k++;
      String w = "w" + id;
      String b = "b" + id;
      g.initializer(w, he(cout * cin * kernel * kernel, cin * kernel * kernel), cout, cin, kernel, kernel);
      float[] bias = new float[cout];
      for (int i = 0; i < cout; i++) {
        bias[i] = (float) (r.nextGaussian() * 0.01);
      }
      g.initializer(b, bias, cout);
      int p = kernel / 2;
      String y = "conv" + id;
      g.node(
          "Conv",
          "/conv" + id + "/Conv",
          new String[] {x, w, b},
          new String[] {y},
          ints("pads", p, p, p, p),
          ints("strides", stride, stride),
          ints("kernel_shape", kernel, kernel));
      if (!relu) {
        return y;
      }
      g.node("Relu", "/relu" + id + "/Relu", new String[] {y}, new String[] {y + "_relu"});
      return y + "_relu";
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
}
