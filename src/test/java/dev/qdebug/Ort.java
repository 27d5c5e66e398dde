package dev.qdebug;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.proto.OnnxProtos.GraphProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.TypeProto;
import dev.qdebug.onnx.proto.OnnxProtos.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** ONNX Runtime Java as the test oracle: graph optimizations off, as the engine notes require. */
public final class Ort {
  private Ort() {}

  /** Runs {@code model} in ONNX Runtime and returns {@code outputs} (any graph outputs) as ND4J. */
  public static Map<String, INDArray> run(
      ModelProto model, Map<String, INDArray> inputs, List<String> outputs) {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
      o.setIntraOpNumThreads(1);
      try (OrtSession s = env.createSession(model.toByteArray(), o)) {
        Map<String, OnnxTensor> in = new LinkedHashMap<>();
        try {
          for (Map.Entry<String, INDArray> e : inputs.entrySet()) {
            in.put(e.getKey(), tensor(env, e.getValue()));
          }
          Map<String, INDArray> out = new LinkedHashMap<>();
          try (OrtSession.Result r = s.run(in, new java.util.LinkedHashSet<>(outputs))) {
            for (String name : outputs) {
              OnnxTensor t = (OnnxTensor) r.get(name).orElseThrow();
              FloatBuffer b = t.getFloatBuffer();
              float[] v = new float[b.remaining()];
              b.get(v);
              long[] shape = t.getInfo().getShape();
              INDArray a = Nd4j.createFromArray(v);
              out.put(name, shape.length == 0 ? a.reshape(new long[0]) : a.reshape('c', shape));
            }
          }
          return out;
        } finally {
          in.values().forEach(OnnxTensor::close);
        }
      }
    } catch (OrtException e) {
      throw new AssertionError("ONNX Runtime failed: " + e.getMessage(), e);
    }
  }

  static OnnxTensor tensor(OrtEnvironment env, INDArray a) throws OrtException {
    INDArray c = a.dup('c');
    if (a.dataType() == DataType.FLOAT) {
      return OnnxTensor.createTensor(env, FloatBuffer.wrap(c.data().asFloat()), a.shape());
    }
    if (a.dataType() == DataType.UBYTE) {
      long[] v = c.data().asLong();
      ByteBuffer b = ByteBuffer.allocateDirect(v.length).order(ByteOrder.nativeOrder());
      for (long x : v) {
        b.put((byte) x);
      }
      b.rewind();
      return OnnxTensor.createTensor(env, b, a.shape(), ai.onnxruntime.OnnxJavaType.UINT8);
    }
    throw new IllegalArgumentException("unsupported input type " + a.dataType());
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
