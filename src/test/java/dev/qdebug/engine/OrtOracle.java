package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.qdebug.Ort;
import dev.qdebug.TestModels;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Test support: builds a one-node model in code ({@link TestModels#oneNode}), runs it on qdebug and
 * on onnxruntime ({@link Ort}), and checks that both give the same outputs (shape, element type and
 * values, within the node-test tolerance).
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
      attrs.add(TestModels.intAttr(name, v));
      return this;
    }

    Case attr(String name, float v) {
      attrs.add(TestModels.floatAttr(name, v));
      return this;
    }

    Case attr(String name, String v) {
      attrs.add(TestModels.stringAttr(name, v));
      return this;
    }

    Case attrInts(String name, long... v) {
      attrs.add(TestModels.ints(name, v));
      return this;
    }

    Case attrFloats(String name, float... v) {
      attrs.add(TestModels.floats(name, v));
      return this;
    }

    Case attr(String name, INDArray t) {
      attrs.add(TestModels.tensorAttr(name, t));
      return this;
    }

    /** The node's model; outputs without declared types. */
    ModelProto model() {
      return TestModels.oneNode(op, opset, inputs, attrs, Collections.nCopies(outputs, 0));
    }

    List<String> outputNames() {
      return IntStream.range(0, outputs).mapToObj(i -> "y" + i).toList();
    }

    /** Runs on qdebug. */
    Map<String, INDArray> runQdebug() {
      OnnxModel m = OnnxModel.of(model(), op + "-opset" + opset);
      try (Session s = Session.open(m)) {
        return s.run(TestModels.oneNodeFeeds(inputs));
      }
    }

    /** Runs on onnxruntime. */
    Map<String, INDArray> runOrt() throws Exception {
      try (Ort.Runner ort = Ort.Runner.open(model())) {
        return ort.run(TestModels.oneNodeFeeds(inputs), outputNames());
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
