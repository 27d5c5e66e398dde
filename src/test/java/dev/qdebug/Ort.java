package dev.qdebug;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.google.protobuf.ByteString;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.proto.OnnxProtos.GraphProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import dev.qdebug.onnx.proto.OnnxProtos.TypeProto;
import dev.qdebug.onnx.proto.OnnxProtos.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * ONNX Runtime Java as the test oracle, for every test that compares with it: graph optimizations
 * off (as the engine notes require) and one thread, tensors of any element type ORT takes in and
 * out as ND4J arrays of the engine's types.
 */
public final class Ort {
  private Ort() {}

  /**
   * Runs {@code model} in ONNX Runtime and returns {@code outputs} (any graph outputs) as ND4J, in
   * that order; a failure of ORT fails the test.
   */
  public static Map<String, INDArray> run(
      ModelProto model, Map<String, INDArray> inputs, List<String> outputs) {
    try (Runner r = Runner.open(model)) {
      return r.run(inputs, outputs);
    } catch (OrtException e) {
      throw new AssertionError("ONNX Runtime failed: " + e.getMessage(), e);
    }
  }

  /** An ORT session with the oracle's options, to run one model several times; close it. */
  public static final class Runner implements AutoCloseable {
    private final OrtSession.SessionOptions options;
    private final OrtSession session;

    private Runner(OrtSession.SessionOptions options, OrtSession session) {
      this.options = options;
      this.session = session;
    }

    /** A session on {@code model}'s bytes. */
    public static Runner open(ModelProto model) throws OrtException {
      byte[] bytes = model.toByteArray();
      return open(o -> OrtEnvironment.getEnvironment().createSession(bytes, o));
    }

    /** A session on the file {@code model}: ORT reads it, and its external data, itself. */
    public static Runner open(Path model) throws OrtException {
      return open(o -> OrtEnvironment.getEnvironment().createSession(model.toString(), o));
    }

    private interface SessionFactory {
      OrtSession create(OrtSession.SessionOptions options) throws OrtException;
    }

    private static Runner open(SessionFactory factory) throws OrtException {
      OrtSession.SessionOptions o = options();
      try {
        return new Runner(o, factory.create(o));
      } catch (OrtException | RuntimeException e) {
        o.close();
        throw e;
      }
    }

    /**
     * Runs on {@code inputs}; returns {@code outputs} in that order. ORT's refusal (a wrong shape,
     * say) is its {@link OrtException}; an output ORT does not return fails the test.
     */
    public Map<String, INDArray> run(Map<String, INDArray> inputs, List<String> outputs)
        throws OrtException {
      OrtEnvironment env = OrtEnvironment.getEnvironment();
      Map<String, OnnxTensor> in = new LinkedHashMap<>();
      try {
        for (Map.Entry<String, INDArray> e : inputs.entrySet()) {
          in.put(e.getKey(), tensor(env, e.getValue()));
        }
        Map<String, INDArray> out = new LinkedHashMap<>();
        try (OrtSession.Result r = session.run(in, new LinkedHashSet<>(outputs))) {
          for (String name : outputs) {
            OnnxTensor t =
                (OnnxTensor)
                    r.get(name)
                        .orElseThrow(() -> new AssertionError("ORT returned no '" + name + "'"));
            out.put(name, array(t));
          }
        }
        return out;
      } finally {
        in.values().forEach(OnnxTensor::close);
      }
    }

    @Override
    public void close() throws OrtException {
      try {
        session.close();
      } finally {
        options.close();
      }
    }
  }

  /** The oracle's session options: graph optimizations off, one thread. */
  static OrtSession.SessionOptions options() throws OrtException {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    try {
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
      o.setIntraOpNumThreads(1);
      o.setInterOpNumThreads(1);
      return o;
    } catch (OrtException e) {
      o.close();
      throw e;
    }
  }

  /** {@code a} as an ORT tensor of the same element type and shape. */
  public static OnnxTensor tensor(OrtEnvironment env, INDArray a) throws OrtException {
    byte[] raw = Tensors.toProto("x", a).getRawData().toByteArray();
    ByteBuffer b =
        ByteBuffer.allocateDirect(Math.max(raw.length, 1)).order(ByteOrder.nativeOrder());
    b.put(raw);
    b.flip();
    long[] shape = a.shape();
    return switch (Tensors.elemType(a.dataType())) {
      case FLOAT -> OnnxTensor.createTensor(env, b.asFloatBuffer(), shape);
      case DOUBLE -> OnnxTensor.createTensor(env, b.asDoubleBuffer(), shape);
      case INT64 -> OnnxTensor.createTensor(env, b.asLongBuffer(), shape);
      case INT32 -> OnnxTensor.createTensor(env, b.asIntBuffer(), shape);
      case INT16 -> OnnxTensor.createTensor(env, b.asShortBuffer(), shape, OnnxJavaType.INT16);
      case FLOAT16 -> OnnxTensor.createTensor(env, b.asShortBuffer(), shape, OnnxJavaType.FLOAT16);
      case INT8 -> OnnxTensor.createTensor(env, b, shape, OnnxJavaType.INT8);
      case UINT8 -> OnnxTensor.createTensor(env, b, shape, OnnxJavaType.UINT8);
      case BOOL -> OnnxTensor.createTensor(env, b, shape, OnnxJavaType.BOOL);
      default -> throw new IllegalArgumentException("no ORT input for " + a.dataType());
    };
  }

  /** ORT's tensor as ND4J, with the element type the engine gives that ONNX type. */
  public static INDArray array(OnnxTensor t) {
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

  /** {@code model} with float tensors {@code extra} added to its graph outputs. */
  public static ModelProto withOutputs(ModelProto model, List<String> extra) {
    GraphProto.Builder g = model.getGraph().toBuilder();
    for (String name : extra) {
      if (g.getOutputList().stream().anyMatch(v -> v.getName().equals(name))) {
        continue;
      }
      g.addOutput(
          ValueInfoProto.newBuilder()
              .setName(name)
              .setType(
                  TypeProto.newBuilder()
                      .setTensorType(
                          TypeProto.Tensor.newBuilder().setElemType(ElemType.FLOAT.code()))));
    }
    return model.toBuilder().setGraph(g).build();
  }
}
