package dev.qdebug.engine.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.qdebug.Ort;
import dev.qdebug.TestModels;
import dev.qdebug.engine.Session;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The neural-network ops against ONNX Runtime (no graph optimizations) on single-node models with
 * random inputs, over the attribute combinations the ONNX node tests leave out: grouped, depthwise,
 * dilated, strided, 1-D and 3-D convolutions, asymmetric and automatic padding, pooling corner
 * cases, MatMul broadcasting, Gemm bias shapes, LayerNormalization axes and the pre-13 Softmax
 * coercion. Weights are graph inputs, so they reach the ops the way hooked weights do.
 */
class NnOpsOrtTest {
  private static final double RTOL = 1e-4;
  private static final double ATOL = 1e-5;

  /** One single-node model: op, opset, attributes, inputs and the output element types. */
  private static final class Case {
    final String name;
    final String op;
    int opset = 17;
    final List<INDArray> inputs = new ArrayList<>();
    final List<AttributeProto> attrs = new ArrayList<>();
    final List<Integer> outputTypes = new ArrayList<>();
    /**
     * The expected first output where ONNX Runtime's is not defined (it returns whatever its
     * buffer held, NaN at times, for a convolution over no input channel), else null.
     */
    INDArray expected;

    Case(String name, String op) {
      this.name = name;
      this.op = op;
    }

    Case opset(int v) {
      opset = v;
      return this;
    }

    /** Compares the first output with {@code y}, by the op's definition, not with ORT. */
    Case expect(INDArray y) {
      expected = y;
      return this;
    }

    Case in(INDArray a) {
      inputs.add(a);
      return this;
    }

    /** An omitted optional input. */
    Case none() {
      inputs.add(null);
      return this;
    }

    Case ints(String attr, long... v) {
      attrs.add(TestModels.ints(attr, v));
      return this;
    }

    Case i(String attr, long v) {
      attrs.add(TestModels.intAttr(attr, v));
      return this;
    }

    Case f(String attr, float v) {
      attrs.add(TestModels.floatAttr(attr, v));
      return this;
    }

    Case s(String attr, String v) {
      attrs.add(TestModels.stringAttr(attr, v));
      return this;
    }

    /** Declares an output of ONNX element type {@code type} (1 = float, 7 = int64, ...). */
    Case out(int type) {
      outputTypes.add(type);
      return this;
    }

    /** An output of the first given input's element type. */
    Case out() {
      INDArray first = inputs.stream().filter(x -> x != null).findFirst().orElseThrow();
      return out(Tensors.elemType(first.dataType()).code());
    }

    ModelProto model() {
      return TestModels.oneNode(op, opset, inputs, attrs, outputTypes);
    }

    List<String> outputNames() {
      return IntStream.range(0, outputTypes.size()).mapToObj(i -> "y" + i).toList();
    }
  }

  private static final Random RANDOM = new Random(20240611);

  /** A convolution over no input channel: each output value is its channel's bias (an empty sum). */
  private static Case noInputChannel(Case c) {
    INDArray x = c.inputs.get(0);
    INDArray b = c.inputs.get(2);
    INDArray y = Nd4j.create(DataType.FLOAT, x.size(0), b.length(), x.size(2), x.size(3));
    for (int ch = 0; ch < b.length(); ch++) {
      y.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(ch))
          .assign(b.getFloat(ch));
    }
    return c.expect(y);
  }

  private static INDArray rand(long... shape) {
    int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) RANDOM.nextGaussian();
    }
    return Nd4j.createFromArray(v).reshape('c', shape);
  }

  private static INDArray positive(long... shape) {
    INDArray a = rand(shape);
    return org.nd4j.linalg.ops.transforms.Transforms.abs(a).addi(0.1);
  }

  private static INDArray bytes(DataType type, long... shape) {
    int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
    int[] v = new int[n];
    for (int i = 0; i < n; i++) {
      v[i] = type == DataType.UBYTE ? RANDOM.nextInt(256) : RANDOM.nextInt(256) - 128;
    }
    return Nd4j.createFromArray(v).reshape('c', shape).castTo(type);
  }

  static List<Case> cases() {
    List<Case> c = new ArrayList<>();
    // Conv
    c.add(
        new Case("conv3x3_bias", "Conv")
            .in(rand(2, 8, 12, 12))
            .in(rand(16, 8, 3, 3))
            .in(rand(16))
            .ints("pads", 1, 1, 1, 1)
            .out());
    c.add(
        new Case("conv_stride2_asym", "Conv")
            .in(rand(1, 4, 11, 10))
            .in(rand(6, 4, 3, 3))
            .ints("strides", 2, 2)
            .ints("pads", 0, 1, 1, 0)
            .out());
    c.add(
        new Case("conv_same_upper_s2", "Conv")
            .in(rand(1, 3, 16, 15))
            .in(rand(5, 3, 3, 3))
            .s("auto_pad", "SAME_UPPER")
            .ints("strides", 2, 2)
            .out());
    c.add(
        new Case("conv_same_lower_s2", "Conv")
            .in(rand(1, 3, 16, 15))
            .in(rand(5, 3, 4, 4))
            .s("auto_pad", "SAME_LOWER")
            .ints("strides", 2, 2)
            .out());
    c.add(
        new Case("conv_valid", "Conv")
            .in(rand(1, 3, 9, 9))
            .in(rand(2, 3, 3, 2))
            .s("auto_pad", "VALID")
            .out());
    c.add(
        new Case("conv_dilated", "Conv")
            .in(rand(1, 4, 13, 13))
            .in(rand(4, 4, 3, 3))
            .ints("dilations", 2, 2)
            .ints("pads", 2, 2, 2, 2)
            .out());
    c.add(
        new Case("conv_dilated_strided_asym", "Conv")
            .in(rand(2, 4, 14, 13))
            .in(rand(4, 4, 3, 3))
            .ints("dilations", 2, 3)
            .ints("strides", 2, 1)
            .ints("pads", 1, 3, 2, 0)
            .in(rand(4))
            .out());
    c.add(
        new Case("conv_1x1", "Conv")
            .in(rand(1, 16, 7, 7))
            .in(rand(24, 16, 1, 1))
            .in(rand(24))
            .out());
    // 1x1 at 20x20 and more: one matrix product per sample in NCHW plans (Conv.pointwise), one
    // over the batch channels-last (Conv.pointwiseChannelsLast), with and without
    // bias, batch 3, 1-D, dilation (no effect on a 1x1 kernel), and a strided / padded one
    c.add(
        new Case("conv_1x1_pointwise_bias", "Conv")
            .in(rand(3, 16, 20, 24))
            .in(rand(24, 16, 1, 1))
            .in(rand(24))
            .out());
    c.add(
        new Case("conv_1x1_pointwise_nobias", "Conv")
            .in(rand(2, 40, 32, 32))
            .in(rand(8, 40, 1, 1))
            .out());
    c.add(
        new Case("conv_1x1_pointwise_1d", "Conv")
            .in(rand(2, 6, 450))
            .in(rand(5, 6, 1))
            .in(rand(5))
            .ints("dilations", 2)
            .out());
    c.add(
        new Case("conv_1x1_pointwise_dilated", "Conv")
            .in(rand(1, 6, 21, 21))
            .in(rand(4, 6, 1, 1))
            .ints("dilations", 3, 2)
            .out());
    c.add(
        noInputChannel(
            new Case("conv_1x1_pointwise_no_input_channel", "Conv")
                .in(rand(2, 0, 20, 20))
                .in(rand(3, 0, 1, 1))
                .in(rand(3))
                .out()));
    c.add(
        new Case("conv_1x1_strided_padded", "Conv")
            .in(rand(2, 8, 24, 24))
            .in(rand(6, 8, 1, 1))
            .in(rand(6))
            .ints("strides", 2, 2)
            .ints("pads", 1, 0, 1, 0)
            .out());
    // depthwise: 5x5 stride 2 with asymmetric pads, a large plane over a batch of 3, multiplier 3
    // with dilation and strides differing by axis, 1-D
    c.add(
        new Case("conv_depthwise_5x5_s2_asym", "Conv")
            .in(rand(2, 6, 17, 14))
            .in(rand(6, 1, 5, 5))
            .in(rand(6))
            .i("group", 6)
            .ints("strides", 2, 2)
            .ints("pads", 2, 1, 1, 2)
            .out());
    c.add(
        new Case("conv_depthwise_large_batch3", "Conv")
            .in(rand(3, 5, 57, 61))
            .in(rand(5, 1, 3, 3))
            .in(rand(5))
            .i("group", 5)
            .ints("pads", 1, 1, 1, 1)
            .out());
    c.add(
        new Case("conv_depthwise_mult3_dilated_s3", "Conv")
            .in(rand(1, 4, 19, 23))
            .in(rand(12, 1, 3, 2))
            .i("group", 4)
            .ints("strides", 3, 2)
            .ints("dilations", 2, 3)
            .ints("pads", 0, 2, 3, 1)
            .out());
    c.add(
        new Case("conv_depthwise_1d", "Conv")
            .in(rand(2, 3, 40))
            .in(rand(3, 1, 4))
            .i("group", 3)
            .ints("strides", 2)
            .ints("pads", 1, 2)
            .out());
    c.add(
        new Case("conv_depthwise", "Conv")
            .in(rand(1, 8, 10, 10))
            .in(rand(8, 1, 3, 3))
            .in(rand(8))
            .i("group", 8)
            .ints("pads", 1, 1, 1, 1)
            .ints("strides", 2, 2)
            .out());
    c.add(
        new Case("conv_depthwise_asym", "Conv")
            .in(rand(1, 8, 10, 10))
            .in(rand(8, 1, 5, 5))
            .i("group", 8)
            .s("auto_pad", "SAME_UPPER")
            .ints("strides", 2, 2)
            .out());
    c.add(
        new Case("conv_depthwise_mult2", "Conv")
            .in(rand(2, 4, 9, 9))
            .in(rand(8, 1, 3, 3))
            .in(rand(8))
            .i("group", 4)
            .ints("pads", 1, 1, 1, 1)
            .out());
    c.add(
        new Case("conv_group2", "Conv")
            .in(rand(1, 8, 9, 9))
            .in(rand(12, 4, 3, 3))
            .in(rand(12))
            .i("group", 2)
            .ints("pads", 1, 0, 1, 2)
            .out());
    c.add(
        new Case("conv_group4_dilated", "Conv")
            .in(rand(2, 8, 11, 11))
            .in(rand(8, 2, 3, 3))
            .i("group", 4)
            .ints("dilations", 2, 2)
            .ints("strides", 2, 2)
            .out());
    c.add(
        new Case("conv1d", "Conv")
            .in(rand(2, 4, 20))
            .in(rand(6, 2, 3))
            .in(rand(6))
            .i("group", 2)
            .ints("strides", 2)
            .ints("dilations", 2)
            .ints("pads", 1, 2)
            .out());
    c.add(
        new Case("conv1d_same", "Conv")
            .in(rand(1, 3, 17))
            .in(rand(5, 3, 4))
            .s("auto_pad", "SAME_UPPER")
            .out());
    c.add(
        new Case("conv3d", "Conv")
            .in(rand(1, 3, 6, 7, 8))
            .in(rand(4, 3, 3, 3, 3))
            .in(rand(4))
            .ints("pads", 1, 1, 1, 1, 0, 1)
            .ints("strides", 1, 2, 2)
            .out());
    c.add(
        new Case("conv3d_group_dilated", "Conv")
            .in(rand(2, 4, 7, 7, 7))
            .in(rand(6, 2, 2, 3, 2))
            .i("group", 2)
            .ints("dilations", 2, 1, 2)
            .out());
    c.add(
        new Case("conv_kernel_shape_attr", "Conv")
            .in(rand(1, 2, 8, 8))
            .in(rand(3, 2, 3, 1))
            .ints("kernel_shape", 3, 1)
            .ints("pads", 1, 0, 1, 0)
            .out());
    c.add(
        new Case("conv_opset9", "Conv")
            .opset(9)
            .in(rand(1, 2, 8, 8))
            .in(rand(3, 2, 3, 3))
            .ints("pads", 1, 1, 1, 1)
            .out());
    c.add(
        new Case("conv_depthwise_dilated_s2", "Conv")
            .in(rand(2, 6, 15, 14))
            .in(rand(12, 1, 3, 3))
            .in(rand(12))
            .i("group", 6)
            .ints("dilations", 2, 2)
            .ints("strides", 2, 2)
            .ints("pads", 2, 1, 2, 3)
            .out());
    c.add(
        new Case("conv_dilated_h_only", "Conv")
            .in(rand(1, 3, 12, 10))
            .in(rand(4, 3, 3, 3))
            .ints("dilations", 3, 1)
            .ints("pads", 3, 1, 3, 1)
            .out());
    c.add(
        new Case("conv_dilated_same_lower", "Conv")
            .in(rand(1, 4, 9, 9))
            .in(rand(4, 2, 2, 2))
            .i("group", 2)
            .ints("dilations", 2, 2)
            .ints("pads", 1, 1, 0, 0)
            .out());
    c.add(
        new Case("conv_batch3_5x5", "Conv")
            .in(rand(3, 3, 17, 16))
            .in(rand(8, 3, 5, 5))
            .in(rand(8))
            .ints("strides", 3, 2)
            .ints("pads", 2, 2, 2, 2)
            .out());
    // ConvTranspose
    c.add(
        new Case("convT_s2_p1_op1", "ConvTranspose")
            .in(rand(1, 4, 5, 5))
            .in(rand(4, 3, 3, 3))
            .in(rand(3))
            .ints("strides", 2, 2)
            .ints("pads", 1, 1, 1, 1)
            .ints("output_padding", 1, 1)
            .out());
    c.add(
        new Case("convT_group2_dilated", "ConvTranspose")
            .in(rand(2, 4, 4, 5))
            .in(rand(4, 3, 3, 2))
            .i("group", 2)
            .ints("dilations", 2, 2)
            .ints("strides", 1, 2)
            .out());
    c.add(
        new Case("convT_k4_s2", "ConvTranspose")
            .in(rand(1, 6, 7, 7))
            .in(rand(6, 4, 4, 4))
            .in(rand(4))
            .ints("strides", 2, 2)
            .ints("pads", 1, 1, 1, 1)
            .out());
    c.add(
        new Case("convT_asym_pads", "ConvTranspose")
            .in(rand(1, 2, 4, 4))
            .in(rand(2, 2, 3, 3))
            .ints("strides", 2, 2)
            .ints("pads", 0, 1, 2, 1)
            .out());
    c.add(
        new Case("convT_output_shape", "ConvTranspose")
            .in(rand(1, 2, 4, 4))
            .in(rand(2, 2, 3, 3))
            .ints("strides", 2, 2)
            .ints("output_shape", 8, 9)
            .out());
    c.add(
        new Case("convT_1d", "ConvTranspose")
            .in(rand(2, 3, 6))
            .in(rand(3, 2, 4))
            .ints("strides", 3)
            .ints("pads", 1, 0)
            .out());
    c.add(
        new Case("convT_3d", "ConvTranspose")
            .in(rand(1, 2, 3, 4, 3))
            .in(rand(2, 3, 2, 3, 2))
            .ints("strides", 2, 1, 2)
            .in(rand(3))
            .out());
    c.add(
        new Case("convT_depthwise", "ConvTranspose")
            .in(rand(1, 4, 5, 5))
            .in(rand(4, 1, 3, 3))
            .i("group", 4)
            .ints("strides", 2, 2)
            .out());
    c.add(
        new Case("convT_same_upper", "ConvTranspose")
            .in(rand(1, 2, 3, 4))
            .in(rand(2, 3, 3, 3))
            .ints("strides", 2, 2)
            .s("auto_pad", "SAME_UPPER")
            .out());
    c.add(
        new Case("convT_same_lower", "ConvTranspose")
            .in(rand(1, 2, 3, 4))
            .in(rand(2, 3, 3, 3))
            .ints("strides", 2, 2)
            .s("auto_pad", "SAME_LOWER")
            .out());
    c.add(
        new Case("convT_output_shape_smaller", "ConvTranspose")
            .in(rand(1, 2, 4, 4))
            .in(rand(2, 1, 3, 3))
            .ints("strides", 2, 2)
            .ints("output_shape", 6, 7)
            .out());
    // pools
    c.add(
        new Case("maxpool_resnet", "MaxPool")
            .in(rand(2, 4, 16, 16))
            .ints("kernel_shape", 3, 3)
            .ints("strides", 2, 2)
            .ints("pads", 1, 1, 1, 1)
            .out());
    c.add(
        new Case("maxpool_ceil_asym", "MaxPool")
            .in(rand(1, 3, 11, 10))
            .ints("kernel_shape", 3, 2)
            .ints("strides", 2, 3)
            .ints("pads", 0, 1, 1, 0)
            .i("ceil_mode", 1)
            .out());
    c.add(
        new Case("maxpool_dilated", "MaxPool")
            .in(rand(1, 2, 12, 12))
            .ints("kernel_shape", 3, 3)
            .ints("dilations", 2, 2)
            .ints("strides", 2, 2)
            .ints("pads", 1, 1, 1, 1)
            .out());
    c.add(
        new Case("maxpool_same_upper", "MaxPool")
            .in(rand(1, 2, 9, 8))
            .ints("kernel_shape", 3, 3)
            .ints("strides", 2, 2)
            .s("auto_pad", "SAME_UPPER")
            .out());
    c.add(
        new Case("maxpool_same_lower", "MaxPool")
            .in(rand(1, 2, 9, 8))
            .ints("kernel_shape", 2, 2)
            .ints("strides", 2, 2)
            .s("auto_pad", "SAME_LOWER")
            .out());
    c.add(
        new Case("maxpool_1d", "MaxPool")
            .in(rand(2, 3, 15))
            .ints("kernel_shape", 4)
            .ints("strides", 3)
            .ints("pads", 1, 2)
            .out());
    c.add(
        new Case("maxpool_3d", "MaxPool")
            .in(rand(1, 2, 6, 7, 5))
            .ints("kernel_shape", 2, 3, 2)
            .ints("strides", 2, 2, 1)
            .ints("pads", 0, 1, 1, 1, 1, 0)
            .out());
    c.add(
        new Case("maxpool_uint8", "MaxPool")
            .in(bytes(DataType.UBYTE, 1, 2, 7, 7))
            .ints("kernel_shape", 3, 3)
            .ints("strides", 2, 2)
            .ints("pads", 1, 1, 1, 1)
            .out());
    c.add(
        new Case("maxpool_int8", "MaxPool")
            .in(bytes(DataType.BYTE, 1, 2, 7, 7))
            .ints("kernel_shape", 2, 2)
            .ints("strides", 2, 2)
            .i("ceil_mode", 1)
            .out());
    c.add(
        new Case("maxpool_indices", "MaxPool")
            .in(rand(2, 3, 7, 6))
            .ints("kernel_shape", 3, 3)
            .ints("strides", 2, 2)
            .ints("pads", 1, 1, 1, 1)
            .out()
            .out(7));
    c.add(
        new Case("maxpool_indices_colmajor", "MaxPool")
            .in(rand(2, 3, 7, 6))
            .ints("kernel_shape", 2, 3)
            .ints("strides", 2, 1)
            .i("storage_order", 1)
            .out()
            .out(7));
    c.add(
        new Case("avgpool_pads_exclude", "AveragePool")
            .in(rand(1, 3, 9, 9))
            .ints("kernel_shape", 3, 3)
            .ints("strides", 2, 2)
            .ints("pads", 1, 1, 1, 1)
            .out());
    c.add(
        new Case("avgpool_pads_include", "AveragePool")
            .in(rand(1, 3, 9, 9))
            .ints("kernel_shape", 3, 3)
            .ints("strides", 2, 2)
            .ints("pads", 1, 0, 0, 1)
            .i("count_include_pad", 1)
            .out());
    c.add(
        new Case("avgpool_ceil_exclude", "AveragePool")
            .in(rand(1, 2, 10, 11))
            .ints("kernel_shape", 3, 3)
            .ints("strides", 2, 2)
            .ints("pads", 1, 1, 1, 1)
            .i("ceil_mode", 1)
            .out());
    c.add(
        new Case("avgpool_ceil_include", "AveragePool")
            .in(rand(1, 2, 10, 11))
            .ints("kernel_shape", 3, 3)
            .ints("strides", 2, 2)
            .ints("pads", 1, 1, 1, 1)
            .i("ceil_mode", 1)
            .i("count_include_pad", 1)
            .out());
    c.add(
        new Case("avgpool_same_upper", "AveragePool")
            .in(rand(1, 2, 9, 8))
            .ints("kernel_shape", 3, 3)
            .ints("strides", 2, 2)
            .s("auto_pad", "SAME_UPPER")
            .out());
    c.add(
        new Case("avgpool_same_lower_include", "AveragePool")
            .in(rand(1, 2, 9, 8))
            .ints("kernel_shape", 2, 2)
            .s("auto_pad", "SAME_LOWER")
            .i("count_include_pad", 1)
            .out());
    c.add(
        new Case("avgpool_1d", "AveragePool")
            .in(rand(2, 3, 15))
            .ints("kernel_shape", 4)
            .ints("strides", 3)
            .ints("pads", 1, 2)
            .out());
    c.add(
        new Case("avgpool_3d", "AveragePool")
            .in(rand(1, 2, 6, 7, 5))
            .ints("kernel_shape", 2, 3, 2)
            .ints("strides", 2, 2, 1)
            .out());
    c.add(
        new Case("avgpool_opset10", "AveragePool")
            .opset(10)
            .in(rand(1, 2, 8, 8))
            .ints("kernel_shape", 2, 2)
            .ints("strides", 2, 2)
            .out());
    c.add(
        new Case("maxpool_dilated_ceil_indices", "MaxPool")
            .in(rand(1, 2, 11, 10))
            .ints("kernel_shape", 3, 2)
            .ints("dilations", 2, 3)
            .ints("strides", 2, 2)
            .ints("pads", 1, 0, 0, 1)
            .i("ceil_mode", 1)
            .out()
            .out(7));
    c.add(
        new Case("avgpool_dilated_ceil_include", "AveragePool")
            .opset(19)
            .in(rand(1, 2, 12, 11))
            .ints("kernel_shape", 3, 2)
            .ints("dilations", 2, 2)
            .ints("strides", 2, 3)
            .ints("pads", 1, 1, 1, 0)
            .i("ceil_mode", 1)
            .i("count_include_pad", 1)
            .out());
    c.add(
        new Case("avgpool_dilated_exclude", "AveragePool")
            .opset(19)
            .in(rand(1, 2, 12, 11))
            .ints("kernel_shape", 2, 2)
            .ints("dilations", 3, 2)
            .ints("pads", 1, 1, 0, 1)
            .out());
    c.add(new Case("gap_4d", "GlobalAveragePool").in(rand(2, 5, 7, 6)).out());
    c.add(new Case("gap_3d", "GlobalAveragePool").in(rand(2, 5, 9)).out());
    c.add(new Case("gmp_4d", "GlobalMaxPool").in(rand(2, 5, 7, 6)).out());
    c.add(new Case("gmp_5d", "GlobalMaxPool").in(rand(1, 3, 3, 4, 5)).out());
    // Gemm
    c.add(
        new Case("gemm_transB_rowbias", "Gemm")
            .in(rand(3, 20))
            .in(rand(10, 20))
            .in(rand(10))
            .i("transB", 1)
            .out());
    c.add(
        new Case("gemm_transA_colbias", "Gemm")
            .in(rand(6, 3))
            .in(rand(6, 5))
            .in(rand(3, 1))
            .i("transA", 1)
            .f("alpha", 0.5f)
            .f("beta", 2f)
            .out());
    c.add(
        new Case("gemm_both_full", "Gemm")
            .in(rand(6, 3))
            .in(rand(5, 6))
            .in(rand(3, 5))
            .i("transA", 1)
            .i("transB", 1)
            .f("beta", -1f)
            .out());
    c.add(new Case("gemm_nobias", "Gemm").in(rand(4, 7)).in(rand(7, 2)).f("alpha", 3f).out());
    // a classifier's shape (oneDNN's blocked weights) and a plain bias-free product
    c.add(
        new Case("gemm_classifier", "Gemm")
            .in(rand(3, 300))
            .in(rand(200, 300))
            .in(rand(200))
            .i("transB", 1)
            .out());
    c.add(new Case("gemm_plain", "Gemm").in(rand(9, 70)).in(rand(70, 33)).out());
    c.add(new Case("gemm_scalar_bias", "Gemm").in(rand(4, 7)).in(rand(7, 2)).in(rand(1, 1)).out());
    c.add(
        new Case("gemm_opset9", "Gemm")
            .opset(9)
            .in(rand(2, 3))
            .in(rand(3, 4))
            .in(rand(1, 4))
            .out());
    c.add(
        new Case("gemm_rowbias_2d", "Gemm")
            .in(rand(4, 7))
            .in(rand(7, 3))
            .in(rand(1, 3))
            .f("beta", 0.25f)
            .out());
    c.add(
        new Case("gemm_double", "Gemm")
            .in(rand(4, 7).castTo(DataType.DOUBLE))
            .in(rand(3, 7).castTo(DataType.DOUBLE))
            .in(rand(3).castTo(DataType.DOUBLE))
            .i("transB", 1)
            .out());
    // MatMul
    c.add(new Case("matmul_3d_2d", "MatMul").in(rand(2, 3, 4)).in(rand(4, 5)).out());
    c.add(new Case("matmul_1d_3d", "MatMul").in(rand(4)).in(rand(3, 4, 5)).out());
    c.add(new Case("matmul_3d_1d", "MatMul").in(rand(2, 3, 4)).in(rand(4)).out());
    c.add(new Case("matmul_1d_1d", "MatMul").in(rand(6)).in(rand(6)).out());
    c.add(new Case("matmul_bcast", "MatMul").in(rand(2, 1, 3, 4)).in(rand(5, 4, 6)).out());
    c.add(new Case("matmul_2d_3d", "MatMul").in(rand(3, 4)).in(rand(2, 4, 5)).out());
    c.add(new Case("matmul_attention", "MatMul").in(rand(2, 4, 16, 8)).in(rand(2, 4, 8, 16)).out());
    c.add(new Case("matmul_opset9", "MatMul").opset(9).in(rand(3, 4)).in(rand(4, 2)).out());
    c.add(
        new Case("matmul_double_bcast", "MatMul")
            .in(rand(3, 1, 2, 5).castTo(DataType.DOUBLE))
            .in(rand(4, 5, 3).castTo(DataType.DOUBLE))
            .out());
    c.add(new Case("matmul_4d_2d", "MatMul").in(rand(2, 3, 5, 8)).in(rand(8, 4)).out());
    c.add(new Case("matmul_linear", "MatMul").in(rand(2, 64, 96)).in(rand(96, 80)).out());
    // batches of small products run as one Java loop (Products.batched), larger ones natively
    c.add(new Case("matmul_tiny_heads", "MatMul").in(rand(6, 5, 1, 16)).in(rand(6, 5, 16, 1)).out());
    c.add(new Case("matmul_small_bcast_b", "MatMul").in(rand(3, 2, 4, 16)).in(rand(2, 16, 4)).out());
    c.add(new Case("matmul_small_bcast_a", "MatMul").in(rand(1, 2, 4, 16)).in(rand(3, 1, 16, 4)).out());
    c.add(new Case("matmul_large_heads", "MatMul").in(rand(2, 3, 32, 24)).in(rand(2, 3, 24, 32)).out());
    c.add(new Case("matmul_large_3d", "MatMul").in(rand(4, 50, 30)).in(rand(4, 30, 60)).out());
    c.add(new Case("matmul_empty_inner", "MatMul").in(rand(2, 3, 0)).in(rand(2, 0, 4)).out());
    // BatchNormalization
    c.add(
        new Case("bn_4d", "BatchNormalization")
            .opset(15)
            .in(rand(2, 3, 4, 5))
            .in(rand(3))
            .in(rand(3))
            .in(rand(3))
            .in(positive(3))
            .f("epsilon", 1e-3f)
            .out());
    c.add(
        new Case("bn_2d", "BatchNormalization")
            .opset(15)
            .in(rand(4, 3))
            .in(rand(3))
            .in(rand(3))
            .in(rand(3))
            .in(positive(3))
            .out());
    c.add(
        new Case("bn_3d_opset9", "BatchNormalization")
            .opset(9)
            .in(rand(2, 3, 7))
            .in(rand(3))
            .in(rand(3))
            .in(rand(3))
            .in(positive(3))
            .out());
    c.add(
        new Case("bn_5d", "BatchNormalization")
            .opset(15)
            .in(rand(2, 3, 2, 3, 4))
            .in(rand(3))
            .in(rand(3))
            .in(rand(3))
            .in(positive(3))
            .out());
    // LayerNormalization
    c.add(
        new Case("ln_last", "LayerNormalization")
            .in(rand(2, 5, 8))
            .in(rand(8))
            .in(rand(8))
            .out()
            .out()
            .out());
    c.add(
        new Case("ln_axis1", "LayerNormalization")
            .in(rand(2, 5, 8))
            .in(rand(5, 8))
            .in(rand(5, 8))
            .i("axis", 1)
            .f("epsilon", 1e-3f)
            .out()
            .out()
            .out());
    c.add(
        new Case("ln_bcast_scale_nobias", "LayerNormalization")
            .in(rand(3, 4, 6))
            .in(rand(1, 6))
            .i("axis", -2)
            .out());
    c.add(
        new Case("ln_axis0", "LayerNormalization")
            .in(rand(3, 4))
            .in(rand(3, 4))
            .i("axis", 0)
            .out()
            .out()
            .out());
    c.add(
        new Case("ln_4d_axis2", "LayerNormalization")
            .in(rand(2, 3, 4, 5))
            .in(rand(4, 5))
            .in(rand(5))
            .i("axis", 2)
            .out()
            .out()
            .out());
    // without statistics wanted: on oneDNN where Scale and B hold a value per normalized position
    c.add(new Case("ln_last_y", "LayerNormalization").in(rand(2, 5, 8)).in(rand(8)).in(rand(8)).out());
    c.add(new Case("ln_scale_only_y", "LayerNormalization").in(rand(4, 7, 16)).in(rand(16)).out());
    c.add(
        new Case("ln_axis1_y", "LayerNormalization")
            .in(rand(2, 5, 8))
            .in(rand(5, 8))
            .in(rand(1, 5, 8))
            .i("axis", 1)
            .f("epsilon", 1e-3f)
            .out());
    c.add(
        new Case("ln_4d_bcast_bias_y", "LayerNormalization")
            .in(rand(2, 3, 4, 5))
            .in(rand(4, 5))
            .in(rand(5))
            .i("axis", 2)
            .out());
    // Softmax / LogSoftmax
    for (int opset : new int[] {11, 13}) {
      for (int axis : new int[] {0, 1, 2, -1}) {
        c.add(
            new Case("softmax_o" + opset + "_a" + axis, "Softmax")
                .opset(opset)
                .in(rand(2, 3, 4))
                .i("axis", axis)
                .out());
        c.add(
            new Case("logsoftmax_o" + opset + "_a" + axis, "LogSoftmax")
                .opset(opset)
                .in(rand(2, 3, 4).muli(20))
                .i("axis", axis)
                .out());
      }
      c.add(new Case("softmax_default_o" + opset, "Softmax").opset(opset).in(rand(2, 3, 4)).out());
      c.add(
          new Case("logsoftmax_default_o" + opset, "LogSoftmax")
              .opset(opset)
              .in(rand(2, 3, 4))
              .out());
    }
    c.add(
        new Case("softmax_o11_4d_a3", "Softmax").opset(11).in(rand(2, 3, 4, 5)).i("axis", 3).out());
    c.add(new Case("softmax_o11_4d_a1", "Softmax").opset(11).in(rand(2, 3, 4, 5)).out());
    c.add(new Case("softmax_1d", "Softmax").opset(13).in(rand(7)).out());
    c.add(new Case("logsoftmax_o9_2d", "LogSoftmax").opset(9).in(rand(3, 6)).out());
    // values hundreds below their row's maximum: the logarithm of their softmax underflows
    c.add(new Case("logsoftmax_wide", "LogSoftmax").in(rand(3, 8).mul(80)).out());
    // batched products: broadcast batch dimensions, ranks 3 to 5, integer inputs
    c.add(new Case("matmul_bcast_b_rank", "MatMul").in(rand(2, 3, 4, 5)).in(rand(3, 5, 6)).out());
    c.add(new Case("matmul_bcast_ones", "MatMul").in(rand(2, 1, 4, 5)).in(rand(1, 3, 5, 6)).out());
    c.add(new Case("matmul_bcast_a_one", "MatMul").in(rand(1, 4, 5)).in(rand(3, 5, 2)).out());
    c.add(new Case("matmul_1d_4d", "MatMul").in(rand(5)).in(rand(2, 3, 5, 6)).out());
    c.add(new Case("matmul_5d", "MatMul").in(rand(2, 2, 3, 7, 9)).in(rand(2, 2, 3, 9, 4)).out());
    // a scalar exponent of 2 runs as x * x
    c.add(new Case("pow_square_scalar", "Pow").opset(13).in(rand(3, 4, 5)).in(Nd4j.scalar(2f)).out());
    c.add(new Case("pow_square_1", "Pow").opset(13).in(rand(2, 6)).in(Nd4j.createFromArray(2f)).out());
    c.add(
        new Case("pow_square_higher_rank", "Pow")
            .opset(13)
            .in(rand(6))
            .in(Nd4j.createFromArray(2f).reshape(1, 1))
            .out());
    c.add(
        new Case("pow_exponent_of_higher_rank", "Pow")
            .opset(13)
            .in(Transforms.abs(rand(6)))
            .in(rand(2, 1, 6))
            .out());
    c.add(
        new Case("matmul_int32_batched", "MatMul")
            .in(rand(2, 3, 4).mul(10).castTo(DataType.INT))
            .in(rand(2, 4, 5).mul(10).castTo(DataType.INT))
            .out());
    return c;
  }

  @TestFactory
  Stream<DynamicTest> againstOnnxRuntime() {
    String filter = System.getProperty("qdebug.cases", "");
    // a convolution runs channels-last on oneDNN (Dnnl) by default; its other paths run in plans
    // compiled with -Dqdebug.dnnl=false (channels-last on ND4J's ops: Conv.pointwiseChannelsLast,
    // depthwise in NHWC) and -Dqdebug.channelsLast=false (Conv.pointwise, oneDNN in NCHW); a float
    // product by a matrix (Gemm, MatMul) and a layer normalization run on oneDNN by default, on
    // ND4J's ops with the former
    return cases().stream()
        .filter(c -> c.name.contains(filter) || c.op.toLowerCase().contains(filter))
        .flatMap(
            c ->
                c.op.equals("Conv")
                    ? Stream.of(
                        DynamicTest.dynamicTest(c.name, () -> check(c, Map.of())),
                        DynamicTest.dynamicTest(
                            c.name + " (channels-last on ND4J)",
                            () -> check(c, Map.of(Dnnl.PROPERTY, "false"))),
                        DynamicTest.dynamicTest(
                            c.name + " (NCHW)",
                            () -> check(c, Map.of(dev.qdebug.engine.Plan.CHANNELS_LAST_PROPERTY, "false"))))
                    : c.op.equals("Gemm") || c.op.equals("MatMul") || c.op.equals("LayerNormalization")
                        ? Stream.of(
                            DynamicTest.dynamicTest(c.name, () -> check(c, Map.of())),
                            DynamicTest.dynamicTest(
                                c.name + " (ND4J)", () -> check(c, Map.of(Dnnl.PROPERTY, "false"))))
                        : Stream.of(DynamicTest.dynamicTest(c.name, () -> check(c, Map.of()))));
  }

  /** Runs case {@code c} in a plan compiled with system properties {@code mode}, and in ORT. */
  private static void check(Case c, Map<String, String> mode) {
    ModelProto proto = c.model();
    Map<String, INDArray> feeds = TestModels.oneNodeFeeds(c.inputs);
    Map<String, INDArray> ours;
    mode.forEach(System::setProperty);
    try (Session s = Session.open(OnnxModel.of(proto, c.name))) {
      ours = s.run(feeds);
    } finally {
      mode.keySet().forEach(System::clearProperty);
    }
    Map<String, INDArray> theirs =
        c.expected != null ? Map.of(c.outputNames().get(0), c.expected) : Ort.run(proto, feeds, c.outputNames());
    for (String name : c.outputNames()) {
      compare(c.name + "/" + name, theirs.get(name), ours.get(name));
    }
  }

  private static void compare(String what, INDArray expected, INDArray actual) {
    if (actual == null) {
      fail(what + " was not produced");
    }
    assertArrayEquals(expected.shape(), actual.shape(), what + " shape");
    assertEquals(expected.dataType(), actual.dataType(), what + " element type");
    double[] e = expected.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    double[] a = actual.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    for (int k = 0; k < e.length; k++) {
      if (!(Math.abs(a[k] - e[k]) <= ATOL + RTOL * Math.abs(e[k]))) {
        fail(
            what
                + " element "
                + k
                + ": ONNX Runtime "
                + e[k]
                + ", ours "
                + a[k]
                + " (first values ORT "
                + Arrays.toString(Arrays.copyOf(e, Math.min(8, e.length)))
                + ", ours "
                + Arrays.toString(Arrays.copyOf(a, Math.min(8, a.length)))
                + ")");
      }
    }
  }
}
