package dev.qdebug.onnx;

import dev.qdebug.ModelException;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

/**
 * One node of a graph: its name (unique in the model; nodes the file leaves unnamed get {@code
 * <op_type>_<index>}), op type, inputs, outputs and typed attribute access. Attribute errors name
 * the node and the attribute.
 */
public final class OnnxNode {
  private final NodeProto proto;
  private final String name;
  private final int index;

  OnnxNode(NodeProto proto, String name, int index) {
    this.proto = proto;
    this.name = name;
    this.index = index;
  }

  /** Builds a stand-alone view of {@code proto}, e.g. for a node created in code. */
  public static OnnxNode of(NodeProto proto) {
    String name = proto.getName().isEmpty() ? proto.getOpType() + "_0" : proto.getName();
    return new OnnxNode(proto, name, 0);
  }

  public String name() {
    return name;
  }

  /** Position in the graph as the file lists it. */
  public int index() {
    return index;
  }

  public String opType() {
    return proto.getOpType();
  }

  /** Operator domain, "" for the default ONNX domain. */
  public String domain() {
    String d = proto.getDomain();
    return d.equals("ai.onnx") ? "" : d;
  }

  /** Input tensor names; "" marks an omitted optional input. */
  public List<String> inputs() {
    return proto.getInputList();
  }

  public List<String> outputs() {
    return proto.getOutputList();
  }

  /** Input name at {@code i}, or "" when absent. */
  public String input(int i) {
    return i < proto.getInputCount() ? proto.getInput(i) : "";
  }

  public NodeProto proto() {
    return proto;
  }

  public boolean hasAttr(String attr) {
    return find(attr).isPresent();
  }

  /** A short description for error messages: {@code node 'name' (OpType)}. */
  public String describe() {
    return "node '" + name + "' (" + opType() + ")";
  }

  public long attrInt(String attr, long defaultValue) {
    return find(attr).map(a -> check(a, AttributeProto.AttributeType.INT).getI()).orElse(defaultValue);
  }

  public long attrInt(String attr) {
    return check(required(attr), AttributeProto.AttributeType.INT).getI();
  }

  public float attrFloat(String attr, float defaultValue) {
    return find(attr)
        .map(a -> check(a, AttributeProto.AttributeType.FLOAT).getF())
        .orElse(defaultValue);
  }

  public String attrString(String attr, String defaultValue) {
    return find(attr)
        .map(
            a -> check(a, AttributeProto.AttributeType.STRING).getS().toString(StandardCharsets.UTF_8))
        .orElse(defaultValue);
  }

  /** The integer list {@code attr}, or empty when the node does not set it. */
  public Optional<long[]> attrInts(String attr) {
    return find(attr)
        .map(
            a ->
                check(a, AttributeProto.AttributeType.INTS).getIntsList().stream()
                    .mapToLong(Long::longValue)
                    .toArray());
  }

  public Optional<float[]> attrFloats(String attr) {
    return find(attr)
        .map(
            a -> {
              List<Float> list = check(a, AttributeProto.AttributeType.FLOATS).getFloatsList();
              float[] out = new float[list.size()];
              for (int i = 0; i < out.length; i++) {
                out[i] = list.get(i);
              }
              return out;
            });
  }

  public Optional<TensorProto> attrTensor(String attr) {
    return find(attr).map(a -> check(a, AttributeProto.AttributeType.TENSOR).getT());
  }

  /** A {@link ModelException} about this node. */
  public ModelException error(String what) {
    return new ModelException(describe() + ": " + what);
  }

  private Optional<AttributeProto> find(String attr) {
    for (AttributeProto a : proto.getAttributeList()) {
      if (a.getName().equals(attr)) {
        return Optional.of(a);
      }
    }
    return Optional.empty();
  }

  private AttributeProto required(String attr) {
    return find(attr).orElseThrow(() -> error("missing required attribute '" + attr + "'"));
  }

  private AttributeProto check(AttributeProto a, AttributeProto.AttributeType expected) {
    AttributeProto.AttributeType t = a.getType();
    if (t == AttributeProto.AttributeType.UNDEFINED) {
      return a; // files from old writers omit the type; trust the field that is set
    }
    if (t != expected) {
      throw error("attribute '" + a.getName() + "' is " + t + ", expected " + expected);
    }
    return a;
  }

  @Override
  public String toString() {
    return describe();
  }
}
