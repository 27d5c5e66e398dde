package dev.qdebug;

import com.google.protobuf.ByteString;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.GraphProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import dev.qdebug.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.qdebug.onnx.proto.OnnxProtos.TypeProto;
import dev.qdebug.onnx.proto.OnnxProtos.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Tiny ONNX models built in code with the protobuf builders, for tests. */
public final class TestModels {
  private TestModels() {}

  /** A graph builder: add inputs, initializers, nodes and outputs, then {@link #model}. */
  public static final class Graph {
    private final GraphProto.Builder g = GraphProto.newBuilder().setName("test");
    private int opset = 13;

    public Graph opset(int v) {
      opset = v;
      return this;
    }

    /** A float input; -1 in {@code dims} is a symbolic size. */
    public Graph input(String name, long... dims) {
      g.addInput(valueInfo(name, TensorProto.DataType.FLOAT_VALUE, dims));
      return this;
    }

    public Graph output(String name, long... dims) {
      g.addOutput(valueInfo(name, TensorProto.DataType.FLOAT_VALUE, dims));
      return this;
    }

    public Graph initializer(String name, float[] values, long... dims) {
      g.addInitializer(floatTensor(name, values, dims));
      return this;
    }

    /** Any initializer (integer types included). */
    public Graph raw(TensorProto t) {
      g.addInitializer(t);
      return this;
    }

    public Graph node(String op, String name, String[] inputs, String[] outputs, AttributeProto... attrs) {
      NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(name);
      for (String i : inputs) {
        n.addInput(i);
      }
      for (String o : outputs) {
        n.addOutput(o);
      }
      for (AttributeProto a : attrs) {
        n.addAttribute(a);
      }
      g.addNode(n);
      return this;
    }

    public ModelProto proto() {
      return ModelProto.newBuilder()
          .setIrVersion(8)
          .setProducerName("qdebug-tests")
          .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
          .setGraph(g)
          .build();
    }

    public OnnxModel model() {
      return OnnxModel.of(proto(), "test-model");
    }
  }

  public static Graph graph() {
    return new Graph();
  }

  public static ValueInfoProto valueInfo(String name, int elemType, long... dims) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : dims) {
      s.addDim(
          d < 0
              ? TensorShapeProto.Dimension.newBuilder().setDimParam("N")
              : TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return ValueInfoProto.newBuilder()
        .setName(name)
        .setType(
            TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(s)))
        .build();
  }

  public static TensorProto floatTensor(String name, float[] values, long... dims) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    TensorProto.Builder t =
        TensorProto.newBuilder()
            .setName(name)
            .setDataType(TensorProto.DataType.FLOAT_VALUE)
            .setRawData(ByteString.copyFrom(b));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }

  public static AttributeProto ints(String name, long... values) {
    AttributeProto.Builder a =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long v : values) {
      a.addInts(v);
    }
    return a.build();
  }

  public static AttributeProto intAttr(String name, long value) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.INT)
        .setI(value)
        .build();
  }

  public static AttributeProto floatAttr(String name, float value) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.FLOAT)
        .setF(value)
        .build();
  }

  public static AttributeProto floats(String name, float... values) {
    AttributeProto.Builder a =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOATS);
    for (float v : values) {
      a.addFloats(v);
    }
    return a.build();
  }

  public static AttributeProto stringAttr(String name, String value) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.STRING)
        .setS(ByteString.copyFromUtf8(value))
        .build();
  }

  public static AttributeProto tensorAttr(String name, INDArray value) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.TENSOR)
        .setT(Tensors.toProto("", value))
        .build();
  }

  /**
   * A model of the single node {@code op} (named {@code n0}, in graph {@code g}): graph inputs
   * {@code x0, x1, ...} declared with each input's element type and shape, a null input left out
   * (the node gets {@code ""}), and outputs {@code y0, y1, ...}, one per entry of {@code
   * outputTypes}: its ONNX element type, or 0 to leave the type undeclared.
   */
  public static ModelProto oneNode(
      String op,
      int opset,
      List<INDArray> inputs,
      List<AttributeProto> attrs,
      List<Integer> outputTypes) {
    NodeProto.Builder node = NodeProto.newBuilder().setOpType(op).setName("n0");
    GraphProto.Builder g = GraphProto.newBuilder().setName("g");
    for (int i = 0; i < inputs.size(); i++) {
      INDArray x = inputs.get(i);
      if (x == null) {
        node.addInput("");
        continue;
      }
      node.addInput("x" + i);
      TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
      for (long d : x.shape()) {
        shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
      }
      g.addInput(
          ValueInfoProto.newBuilder()
              .setName("x" + i)
              .setType(
                  TypeProto.newBuilder()
                      .setTensorType(
                          TypeProto.Tensor.newBuilder()
                              .setElemType(Tensors.elemType(x.dataType()).code())
                              .setShape(shape))));
    }
    for (int i = 0; i < outputTypes.size(); i++) {
      node.addOutput("y" + i);
      ValueInfoProto.Builder out = ValueInfoProto.newBuilder().setName("y" + i);
      if (outputTypes.get(i) != 0) {
        out.setType(
            TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(outputTypes.get(i))));
      }
      g.addOutput(out);
    }
    node.addAllAttribute(attrs);
    g.addNode(node);
    return ModelProto.newBuilder()
        .setIrVersion(8)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
        .setGraph(g)
        .build();
  }

  /** The feeds of {@link #oneNode}: {@code x<i>} for every input that is not null. */
  public static Map<String, INDArray> oneNodeFeeds(List<INDArray> inputs) {
    Map<String, INDArray> feeds = new LinkedHashMap<>();
    for (int i = 0; i < inputs.size(); i++) {
      if (inputs.get(i) != null) {
        feeds.put("x" + i, inputs.get(i));
      }
    }
    return feeds;
  }
}
