package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.google.protobuf.ByteString;
import dev.qdebug.onnx.ElemType;
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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Test support: builds a one-node model in code, runs it on qdebug and on onnxruntime, and checks
 * that both give the same outputs (shape, element type and values, within the node-test tolerance).
 */
final class OrtOracle {
  private OrtOracle() {}

  static final Random RANDOM = new Random(42);

  /** One node under test: op type, opset, attributes, inputs (null = omitted) and outputs. */
  static final class Case {
    final String op;
    final int opset;
    final List<AttributeProto> attrs = new ArrayList<>();
    final List<INDArray> inputs = new ArrayList<>();
    int outputs = 1;

    Case(String op, int opset) {
      this.op = op;
      this.opset = opset;
    }

    Case in(INDArray... xs) {
      inputs.addAll(Arrays.asList(xs));
      return this;
    }

    Case outputs(int n) {
      outputs = n;
      return this;
    }

    Case attr(String name, long v) {
      attrs.add(
          AttributeProto.newBuilder()
              .setName(name)
              .setType(AttributeProto.AttributeType.INT)
              .setI(v)
              .build());
      return this;
    }

    Case attr(String name, float v) {
      attrs.add(
          AttributeProto.newBuilder()
              .setName(name)
              .setType(AttributeProto.AttributeType.FLOAT)
              .setF(v)
              .build());
      return this;
    }

    Case attr(String name, String v) {
      attrs.add(
          AttributeProto.newBuilder()
              .setName(name)
              .setType(AttributeProto.AttributeType.STRING)
              .setS(ByteString.copyFromUtf8(v))
              .build());
      return this;
    }

    Case attrInts(String name, long... v) {
      AttributeProto.Builder b =
          AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
      for (long x : v) {
        b.addInts(x);
      }
      attrs.add(b.build());
      return this;
    }

    Case attrFloats(String name, float... v) {
      AttributeProto.Builder b =
          AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOATS);
      for (float x : v) {
        b.addFloats(x);
      }
      attrs.add(b.build());
      return this;
    }

    Case attr(String name, INDArray t) {
      attrs.add(
          AttributeProto.newBuilder()
              .setName(name)
              .setType(AttributeProto.AttributeType.TENSOR)
              .setT(Tensors.toProto("", t))
              .build());
      return this;
    }

    ModelProto model() {
      NodeProto.Builder node = NodeProto.newBuilder().setOpType(op).setName("n0");
      GraphProto.Builder g = GraphProto.newBuilder().setName("g");
      for (int i = 0; i < inputs.size(); i++) {
        INDArray x = inputs.get(i);
        if (x == null) {
          node.addInput("");
          continue;
        }
        String name = "x" + i;
        node.addInput(name);
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (long d : x.shape()) {
          shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        g.addInput(
            ValueInfoProto.newBuilder()
                .setName(name)
                .setType(
                    TypeProto.newBuilder()
                        .setTensorType(
                            TypeProto.Tensor.newBuilder()
                                .setElemType(Tensors.elemType(x.dataType()).code())
                                .setShape(shape))));
      }
      for (int i = 0; i < outputs; i++) {
        node.addOutput("y" + i);
        g.addOutput(ValueInfoProto.newBuilder().setName("y" + i));
      }
      node.addAllAttribute(attrs);
      g.addNode(node);
      return ModelProto.newBuilder()
          .setIrVersion(8)
          .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
          .setGraph(g)
          .build();
    }

    /** Runs on qdebug. */
    Map<String, INDArray> runQdebug() {
      OnnxModel m = OnnxModel.of(model(), op + "-opset" + opset);
      Map<String, INDArray> feeds = new LinkedHashMap<>();
      for (int i = 0; i < inputs.size(); i++) {
        if (inputs.get(i) != null) {
          feeds.put("x" + i, inputs.get(i));
        }
      }
      try (Session s = Session.open(m)) {
        return s.run(feeds);
      }
    }

    /** Runs on onnxruntime. */
    Map<String, INDArray> runOrt() throws Exception {
      OrtEnvironment env = OrtEnvironment.getEnvironment();
      try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
        o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
        try (OrtSession s = env.createSession(model().toByteArray(), o)) {
          Map<String, OnnxTensor> feeds = new HashMap<>();
          try {
            for (int i = 0; i < inputs.size(); i++) {
              if (inputs.get(i) != null) {
                feeds.put("x" + i, toOrt(env, inputs.get(i)));
              }
            }
            Map<String, INDArray> out = new LinkedHashMap<>();
            try (OrtSession.Result r = s.run(feeds)) {
              for (int i = 0; i < outputs; i++) {
                out.put("y" + i, fromOrt((OnnxTensor) r.get(i)));
              }
            }
            return out;
          } finally {
            feeds.values().forEach(OnnxTensor::close);
          }
        }
      }
    }

    /** Checks qdebug against onnxruntime. */
    void check() throws Exception {
      Map<String, INDArray> want;
      try {
        want = runOrt();
      } catch (Exception e) {
        throw new AssertionError("onnxruntime failed on " + this + ": " + e.getMessage(), e);
      }
      Map<String, INDArray> got;
      try {
        got = runQdebug();
      } catch (RuntimeException e) {
        throw new AssertionError("qdebug failed on " + this + ": " + e.getMessage(), e);
      }
      assertEquals(want.keySet(), got.keySet());
      for (String k : want.keySet()) {
        INDArray w = want.get(k);
        INDArray g = got.get(k);
        if (op.equals("Resize") || op.equals("Upsample")) {
          // both interpolate in float, in different orders: allow for rounding near zero
          assertEquals(
              java.util.Arrays.toString(w.shape()),
              java.util.Arrays.toString(g.shape()),
              this + " shape");
          assertEquals(w.dataType(), g.dataType(), this + " type");
          if (w.dataType().isFPType() && w.length() > 0) {
            double[] e = w.dup('c').castTo(DataType.DOUBLE).data().asDouble();
            double[] a = g.dup('c').castTo(DataType.DOUBLE).data().asDouble();
            for (int i = 0; i < e.length; i++) {
              if (Math.abs(e[i] - a[i]) > 1e-5 + 1e-3 * Math.abs(e[i])) {
                throw new AssertionError(
                    this + " element " + i + ": expected " + e[i] + ", got " + a[i]);
              }
            }
            continue;
          }
        }
        NodeCaseTest.assertClose(this + " " + k, w, g);
      }
    }

    @Override
    public String toString() {
      StringBuilder b = new StringBuilder(op + "-" + opset + "(");
      for (INDArray x : inputs) {
        b.append(x == null ? "none" : x.dataType() + java.util.Arrays.toString(x.shape()));
        if (x != null && x.length() <= 8) {
          b.append("=").append(java.util.Arrays.toString(x.dup().data().asDouble()));
        }
        b.append(", ");
      }
      for (AttributeProto a : attrs) {
        b.append(a.getName()).append("=");
        switch (a.getType()) {
          case INT -> b.append(a.getI());
          case FLOAT -> b.append(a.getF());
          case STRING -> b.append(a.getS().toStringUtf8());
          case INTS -> b.append(a.getIntsList());
          case FLOATS -> b.append(a.getFloatsList());
          default -> b.append("tensor");
        }
        b.append(", ");
      }
      return b.append(")").toString();
    }
  }

  static OnnxTensor toOrt(OrtEnvironment env, INDArray x) throws Exception {
    TensorProto t = Tensors.toProto("x", x);
    byte[] raw = t.getRawData().toByteArray();
    ByteBuffer b =
        ByteBuffer.allocateDirect(Math.max(raw.length, 1)).order(ByteOrder.nativeOrder());
    b.put(raw);
    b.flip();
    long[] shape = x.shape();
    return switch (Tensors.elemType(x.dataType())) {
      case FLOAT -> OnnxTensor.createTensor(env, b.asFloatBuffer(), shape);
      case DOUBLE -> OnnxTensor.createTensor(env, b.asDoubleBuffer(), shape);
      case INT64 -> OnnxTensor.createTensor(env, b.asLongBuffer(), shape);
      case INT32 -> OnnxTensor.createTensor(env, b.asIntBuffer(), shape);
      case INT16 -> OnnxTensor.createTensor(env, b.asShortBuffer(), shape, OnnxJavaType.INT16);
      case FLOAT16 -> OnnxTensor.createTensor(env, b.asShortBuffer(), shape, OnnxJavaType.FLOAT16);
      case INT8 -> OnnxTensor.createTensor(env, b, shape, OnnxJavaType.INT8);
      case UINT8 -> OnnxTensor.createTensor(env, b, shape, OnnxJavaType.UINT8);
      case BOOL -> OnnxTensor.createTensor(env, b, shape, OnnxJavaType.BOOL);
      default -> throw new IllegalArgumentException("no ORT input for " + x.dataType());
    };
  }

  static INDArray fromOrt(OnnxTensor t) {
    TensorInfo info = t.getInfo();
    ByteBuffer b = t.getByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    TensorProto.Builder p =
        TensorProto.newBuilder()
            .setDataType(onnxCode(info.onnxType))
            .setRawData(ByteString.copyFrom(b));
    for (long d : info.getShape()) {
      p.addDims(d);
    }
    return Tensors.fromProto(p.build());
  }

  private static int onnxCode(TensorInfo.OnnxTensorType t) {
    return switch (t) {
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT -> 1;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 -> 2;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8 -> 3;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16 -> 4;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16 -> 5;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32 -> 6;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 -> 7;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL -> 9;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 -> 10;
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE -> 11;
      default -> throw new IllegalArgumentException("no ONNX code for " + t);
    };
  }

  // ---- inputs

  static INDArray floats(long... shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    float[] v = new float[(int) n];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (RANDOM.nextGaussian());
    }
    return shaped(n == 0 ? Nd4j.create(DataType.FLOAT, shape) : Nd4j.createFromArray(v), shape);
  }

  static INDArray longsRange(long... shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    long[] v = new long[(int) n];
    for (int i = 0; i < v.length; i++) {
      v[i] = i * 1_000_000_007L + (1L << 40);
    }
    return shaped(n == 0 ? Nd4j.create(DataType.LONG, shape) : Nd4j.createFromArray(v), shape);
  }

  static INDArray shaped(INDArray flat, long[] shape) {
    if (flat.length() == 0) {
      return flat;
    }
    return shape.length == 0 ? flat.reshape(new long[0]) : flat.reshape('c', shape);
  }

  /** A 1-D INT64 tensor. */
  static INDArray i64(long... v) {
    return v.length == 0 ? Nd4j.create(DataType.LONG, 0) : Nd4j.createFromArray(v);
  }

  /** A 1-D INT32 tensor. */
  static INDArray i32(int... v) {
    return v.length == 0 ? Nd4j.create(DataType.INT, 0) : Nd4j.createFromArray(v);
  }

  /** A 1-D FLOAT tensor. */
  static INDArray f32(float... v) {
    return v.length == 0 ? Nd4j.create(DataType.FLOAT, 0) : Nd4j.createFromArray(v);
  }

  static ElemType type(INDArray x) {
    return Tensors.elemType(x.dataType());
  }
}
