package dev.qdebug.quant;

import com.google.protobuf.ByteString;
import dev.qdebug.ModelException;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.ElemType;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.GraphProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import dev.qdebug.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import dev.qdebug.onnx.proto.OnnxProtos.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Standard ONNX QDQ: each quantized tensor {@code t} passes through {@code QuantizeLinear} then
 * {@code DequantizeLinear}, and its consumers read the dequantized value.
 *
 * <p>Reading strips every Q→DQ pair into a calibration node on the pair's float input (or, when
 * the pair's output is a graph output, on that output's name, so graph output names survive);
 * a DequantizeLinear of a constant integer weight (ONNX Runtime's quantize_static writes these)
 * becomes a float weight plus a calibration node; an int32 bias behind a DequantizeLinear becomes
 * its float value. Scales and zero points may come from initializers, Constant nodes or Identity
 * nodes of those (torch.onnx shares equal initializers so); such nodes go with the Q/DQ they fed.
 * A negative per-channel axis counts from the end of the tensor's rank when the model states
 * it (constants, declared shapes). Writing inserts one pair per enabled calibration node, right
 * after the tensor's producer, with ONNX Runtime's names ({@code t_QuantizeLinear}, {@code
 * t_DequantizeLinear_Output}, {@code t_scale}, {@code t_zero_point}). Types or granularities the
 * model's opset lacks (per-channel before opset 13; int4/int16 before opset 21) use ONNX
 * Runtime's {@code com.microsoft} QuantizeLinear/DequantizeLinear, which accept them all.
 */
final class QdqFormat {
  static final String MS_DOMAIN = "com.microsoft";

  private QdqFormat() {}

  // ------------------------------------------------------------------ reading

  static CalibratedModel read(OnnxModel model) {
    GraphProto g = model.proto().getGraph();
    String src = model.source();
    Map<String, TensorProto> constants = new LinkedHashMap<>(model.initializers());
    Set<Integer> constantNodes = constantNodes(model, constants);
    Map<String, OnnxNode> producer = new HashMap<>();
    for (OnnxNode n : model.nodes()) {
      n.outputs().forEach(o -> producer.put(o, n));
    }
    Set<String> graphOutputs = new HashSet<>();
    g.getOutputList().forEach(v -> graphOutputs.add(v.getName()));

    Set<Integer> drop = new HashSet<>(); // node indices to remove
    PassThrough chains = new PassThrough();
    Map<String, TensorProto> newInitializers = new LinkedHashMap<>();
    Map<String, QParams> pairs = new LinkedHashMap<>(); // float input of each pair -> parameters
    List<CalibrationNode> folded = new ArrayList<>();

    for (OnnxNode dq : model.nodes()) {
      if (!dq.opType().equals("DequantizeLinear")) {
        continue;
      }
      String in = dq.input(0);
      String y = dq.outputs().get(0);
      OnnxNode q = producer.get(in);
      if (q != null && q.opType().equals("QuantizeLinear")) {
        int rank = rank(g, q.input(0), constants);
        QParams p = params(q, constants, src, rank);
        QParams pd = params(dq, constants, src, rank);
        if (!p.equals(pd)) {
          throw new ModelException(
              src + ": " + q.describe() + " and " + dq.describe() + " use different parameters");
        }
        drop.add(q.index());
        drop.add(dq.index());
        chains.join(q.input(0), in);
        chains.join(in, y);
        pairs.putIfAbsent(q.input(0), p);
      } else if (constants.containsKey(in)) {
        // a constant integer tensor behind DequantizeLinear: fold it into a float weight
        TensorProto raw = constants.get(in);
        ElemType t = ElemType.of(raw.getDataType());
        drop.add(dq.index());
        if (t == ElemType.INT32) { // a bias: keep its float value, quantized no further
          newInitializers.put(y, Tensors.toProto(y, dequantizeInt32(dq, raw, constants, src)));
          continue;
        }
        QParams p = params(dq, constants, src, raw.getDimsCount());
        long[] dims = raw.getDimsList().stream().mapToLong(Long::longValue).toArray();
        INDArray codes = org.nd4j.linalg.factory.Nd4j.createFromArray(integers(raw));
        INDArray f =
            FakeQuant.dequantize(
                dims.length == 0 ? codes.reshape(new long[0]) : codes.reshape('c', dims), p);
        newInitializers.put(y, Tensors.toProto(y, f));
        folded.add(CalibrationNode.of(y, TensorKind.WEIGHT, p, isSymmetric(p), "loaded"));
      } else {
        throw new ModelException(
            src + ": " + dq.describe() + " reads '" + in + "', which is neither a QuantizeLinear "
                + "output nor a constant; integer tensors between ops are not supported");
      }
    }
    for (OnnxNode q : model.nodes()) {
      if (q.opType().equals("QuantizeLinear") && !drop.contains(q.index())) {
        throw new ModelException(
            src + ": " + q.describe() + " is not followed by a DequantizeLinear; integer tensors "
                + "between ops are not supported");
      }
    }
    if (drop.isEmpty()) {
      return new CalibratedModel(model, List.of(), List.of());
    }
    Map<String, String> rename = chains.names(graphOutputs, src);
    List<CalibrationNode> nodes = new ArrayList<>(folded);
    for (Map.Entry<String, QParams> e : pairs.entrySet()) {
      String x = e.getKey();
      String tensor = rename.getOrDefault(x, x);
      TensorKind kind = constants.containsKey(x) ? TensorKind.WEIGHT : TensorKind.ACTIVATION;
      QParams p = e.getValue();
      nodes.add(CalibrationNode.of(tensor, kind, p, isSymmetric(p), "loaded"));
    }
    OnnxModel floatModel = model.with(strip(model, drop, rename, newInitializers, constantNodes));
    return new CalibratedModel(floatModel, nodes, nodes.stream().map(CalibrationNode::name).toList());
  }

  /**
   * Adds to {@code constants} the outputs of Constant nodes and of Identity nodes reading a
   * constant (torch.onnx.export shares equal initializers, e.g. zero points, through Identity);
   * returns those nodes' indices.
   */
  private static Set<Integer> constantNodes(OnnxModel model, Map<String, TensorProto> constants) {
    Set<Integer> found = new HashSet<>();
    boolean grew = true;
    while (grew) { // nodes are normally in order; the loop also covers graphs that are not
      grew = false;
      for (OnnxNode n : model.nodes()) {
        if (found.contains(n.index()) || n.outputs().size() != 1) {
          continue;
        }
        String out = n.outputs().get(0);
        TensorProto value = null;
        if (n.opType().equals("Constant") && n.attrTensor("value").isPresent()) {
          value = n.attrTensor("value").get();
        } else if (n.opType().equals("Identity") && constants.containsKey(n.input(0))) {
          value = constants.get(n.input(0));
        }
        if (value != null) {
          constants.put(out, value.toBuilder().setName(out).build());
          found.add(n.index());
          grew = true;
        }
      }
    }
    return found;
  }

  private static ModelProto strip(
      OnnxModel model,
      Set<Integer> drop,
      Map<String, String> rename,
      Map<String, TensorProto> add,
      Set<Integer> constantNodes) {
    GraphProto g = model.proto().getGraph();
    // constant nodes (Constant, Identity of a constant) that fed only the removed Q/DQ nodes go too
    drop = new HashSet<>(drop);
    boolean grew = true;
    while (grew) {
      grew = false;
      Set<String> kept = new HashSet<>(); // what the remaining nodes and the graph outputs read
      g.getOutputList().forEach(v -> kept.add(resolve(rename, v.getName())));
      Set<String> readAtAll = new HashSet<>();
      for (int k = 0; k < g.getNodeCount(); k++) {
        readAtAll.addAll(g.getNode(k).getInputList());
        if (!drop.contains(k)) {
          g.getNode(k).getInputList().forEach(in -> kept.add(resolve(rename, in)));
        }
      }
      for (int i : constantNodes) {
        String o = g.getNode(i).getOutput(0);
        if (!drop.contains(i) && readAtAll.contains(o) && !kept.contains(resolve(rename, o))) {
          drop.add(i);
          grew = true;
        }
      }
    }
    GraphProto.Builder gb = g.toBuilder().clearNode();
    for (int i = 0; i < g.getNodeCount(); i++) {
      if (drop.contains(i)) {
        continue;
      }
      NodeProto.Builder n = g.getNode(i).toBuilder();
      for (int k = 0; k < n.getInputCount(); k++) {
        n.setInput(k, resolve(rename, n.getInput(k)));
      }
      for (int k = 0; k < n.getOutputCount(); k++) {
        n.setOutput(k, resolve(rename, n.getOutput(k)));
      }
      gb.addNode(n);
    }
    // drop initializers nothing reads any more (scales, zero points, integer weights)
    Set<String> used = new HashSet<>();
    gb.getNodeList().forEach(n -> used.addAll(n.getInputList()));
    gb.getOutputList().forEach(v -> used.add(v.getName()));
    gb.clearInitializer();
    for (TensorProto t : g.getInitializerList()) {
      String name = resolve(rename, t.getName());
      if (used.contains(name) && !add.containsKey(name)) {
        gb.addInitializer(t.toBuilder().setName(name));
      }
    }
    add.values().forEach(gb::addInitializer);
    gb.clearInput();
    for (ValueInfoProto v : g.getInputList()) {
      if (used.contains(v.getName()) && !add.containsKey(v.getName())) {
        gb.addInput(v);
      }
    }
    gb.clearValueInfo();
    gb.clearQuantizationAnnotation();
    return model.proto().toBuilder().setGraph(gb).build();
  }

  private static String resolve(Map<String, String> rename, String name) {
    return rename.getOrDefault(name, name);
  }

  /** DequantizeLinear of an int32 constant (a bias): {@code (q - zp) * scale}, per channel. */
  private static INDArray dequantizeInt32(
      OnnxNode dq, TensorProto raw, Map<String, TensorProto> constants, String src) {
    TensorProto s = constants.get(dq.input(1));
    if (s == null) {
      throw new ModelException(src + ": " + dq.describe() + ": scale is not a constant");
    }
    float[] scale = Tensors.fromProto(s).castTo(DataType.FLOAT).dup('c').data().asFloat();
    long[] zp = new long[scale.length];
    if (!dq.input(2).isEmpty() && constants.containsKey(dq.input(2))) {
      zp = Tensors.fromProto(constants.get(dq.input(2))).dup('c').data().asLong();
    }
    INDArray q = Tensors.fromProto(raw);
    long[] codes = q.dup('c').data().asLong();
    long[] shape = q.shape();
    int axis = scale.length > 1 ? (int) dq.attrInt("axis", 1) : -1;
    if (scale.length > 1 && axis < 0) {
      axis += shape.length;
    }
    int inner = 1;
    if (axis >= 0) {
      for (int d = axis + 1; d < shape.length; d++) {
        inner *= (int) shape[d];
      }
    }
    float[] out = new float[codes.length];
    for (int i = 0; i < codes.length; i++) {
      int c = axis < 0 ? 0 : (i / inner) % scale.length;
      out[i] = (float) (codes[i] - zp[c]) * scale[c];
    }
    INDArray f = org.nd4j.linalg.factory.Nd4j.createFromArray(out);
    return shape.length == 0 ? f.reshape(new long[0]) : f.reshape('c', shape);
  }

  /**
   * The values of an integer tensor; 4-bit types are unpacked (two per byte, low nibble first,
   * from raw_data or int32_data), as the ONNX specification stores them.
   */
  static long[] integers(TensorProto t) {
    ElemType type = ElemType.of(t.getDataType());
    if (type != ElemType.INT4 && type != ElemType.UINT4) {
      return Tensors.fromProto(t).dup('c').data().asLong();
    }
    long n = 1;
    for (long d : t.getDimsList()) {
      n *= d;
    }
    byte[] packed;
    if (!t.getRawData().isEmpty()) {
      packed = t.getRawData().toByteArray();
    } else {
      packed = new byte[t.getInt32DataCount()];
      for (int i = 0; i < packed.length; i++) {
        packed[i] = (byte) t.getInt32Data(i);
      }
    }
    if (packed.length != (n + 1) / 2) {
      throw new ModelException(
          "tensor '" + t.getName() + "': " + packed.length + " bytes for " + n + " 4-bit values");
    }
    long[] out = new long[(int) n];
    for (int i = 0; i < n; i++) {
      int nibble = (packed[i / 2] >> ((i % 2) * 4)) & 0xf;
      out[i] = type == ElemType.INT4 && nibble >= 8 ? nibble - 16 : nibble;
    }
    return out;
  }

  static boolean isSymmetric(QParams p) {
    long mid = p.type().signed() ? 0 : (p.type().qmax() + 1) / 2;
    for (long z : p.zeroPoint()) {
      if (z != mid) {
        return false;
      }
    }
    return true;
  }

  /** The rank of {@code tensor} where the model states it (constant, declared shape), else -1. */
  private static int rank(GraphProto g, String tensor, Map<String, TensorProto> constants) {
    if (constants.containsKey(tensor)) {
      return constants.get(tensor).getDimsCount();
    }
    List<ValueInfoProto> declared = new ArrayList<>(g.getInputList());
    declared.addAll(g.getValueInfoList());
    declared.addAll(g.getOutputList());
    for (ValueInfoProto v : declared) {
      if (v.getName().equals(tensor) && v.getType().hasTensorType()
          && v.getType().getTensorType().hasShape()) {
        return v.getType().getTensorType().getShape().getDimCount();
      }
    }
    return -1;
  }

  /**
   * The parameters of a QuantizeLinear or DequantizeLinear node from its constant inputs; {@code
   * rank} (the quantized tensor's, -1 if unknown) resolves a negative per-channel axis.
   */
  static QParams params(OnnxNode n, Map<String, TensorProto> constants, String src, int rank) {
    TensorProto s = constants.get(n.input(1));
    if (s == null) {
      throw new ModelException(
          src + ": " + n.describe() + ": scale '" + n.input(1) + "' is not a constant");
    }
    if (n.hasAttr("block_size") && n.attrInt("block_size") != 0) {
      throw n.error("blocked quantization (block_size) is not supported");
    }
    float[] scale = Tensors.fromProto(s).castTo(DataType.FLOAT).dup('c').data().asFloat();
    QType type;
    long[] zp;
    if (n.input(2).isEmpty()) {
      int to = (int) n.attrInt("output_dtype", 0);
      type = to == 0 ? QType.UINT8 : qtype(ElemType.of(to), n);
      zp = new long[scale.length];
      if (!n.opType().equals("QuantizeLinear") && to == 0) {
        type = QType.UINT8;
      }
    } else {
      TensorProto z = constants.get(n.input(2));
      if (z == null) {
        throw new ModelException(
            src + ": " + n.describe() + ": zero point '" + n.input(2) + "' is not a constant");
      }
      type = qtype(ElemType.of(z.getDataType()), n);
      zp = integers(z);
    }
    if (zp.length != scale.length) {
      throw n.error("scale has " + scale.length + " values but zero point has " + zp.length);
    }
    int axis = -1;
    if (s.getDimsCount() > 0 && scale.length > 1) {
      axis = (int) n.attrInt("axis", 1);
    } else if (scale.length > 1) {
      throw n.error("a scale of " + scale.length + " values without a dimension");
    }
    if (axis < 0 && scale.length > 1) {
      if (rank <= 0 || axis < -rank) {
        throw n.error("negative axis " + axis + " on a tensor of unknown rank is not supported");
      }
      axis += rank; // ONNX counts a negative axis from the end (opset 13+)
    }
    try {
      return new QParams(scale, zp, axis, type);
    } catch (IllegalArgumentException e) {
      throw n.error(e.getMessage()); // a zero, negative or NaN scale, a zero point out of range
    }
  }

  private static QType qtype(ElemType t, OnnxNode n) {
    try {
      return QType.of(t);
    } catch (IllegalArgumentException e) {
      throw n.error("quantized type " + t + " is not supported (int4/uint4/int8/uint8/int16/uint16)");
    }
  }

  // ------------------------------------------------------------------ writing

  static ModelProto write(OnnxModel floatModel, List<CalibrationNode> nodes) {
    ModelProto m = floatModel.proto();
    int opset = floatModel.opset();
    GraphProto g = m.getGraph();
    Set<String> outputs = new HashSet<>();
    g.getOutputList().forEach(v -> outputs.add(v.getName()));
    Set<String> constants = new HashSet<>(floatModel.initializers().keySet());
    Map<String, List<NodeProto>> after = new LinkedHashMap<>(); // producer output -> new nodes
    List<NodeProto> atStart = new ArrayList<>();
    Map<String, String> consumerRename = new HashMap<>();
    Map<String, String> producerRename = new HashMap<>();
    GraphProto.Builder gb = g.toBuilder();
    boolean needsMs = false;
    Map<String, OnnxNode> producer = new HashMap<>();
    for (OnnxNode n : floatModel.nodes()) {
      n.outputs().forEach(o -> producer.put(o, n));
    }
    for (CalibrationNode c : nodes) {
      String t = c.tensor();
      QParams p = c.params();
      boolean standard = opset >= 21 || (opset >= 13 && (p.type() == QType.INT8 || p.type() == QType.UINT8))
          || (opset >= 10 && !p.perChannel() && (p.type() == QType.INT8 || p.type() == QType.UINT8));
      String domain = standard ? "" : MS_DOMAIN;
      needsMs |= !standard;
      String input = t;
      String output = t + "_DequantizeLinear_Output";
      if (outputs.contains(t)) {
        // keep the graph output's name on the quantized value
        input = t + "_float";
        output = t;
        if (constants.contains(t) || !producer.containsKey(t)) {
          throw new ModelException(
              floatModel.source() + ": cannot quantize graph output '" + t + "' that no node produces");
        }
        producerRename.put(t, input);
      } else {
        consumerRename.put(t, output);
      }
      String scale = t + "_scale";
      String zero = t + "_zero_point";
      gb.addInitializer(scaleTensor(scale, p));
      gb.addInitializer(zeroPointTensor(zero, p));
      String qOut = t + "_QuantizeLinear_Output";
      NodeProto.Builder q =
          NodeProto.newBuilder().setOpType("QuantizeLinear").setName(t + "_QuantizeLinear")
              .setDomain(domain).addInput(input).addInput(scale).addInput(zero).addOutput(qOut);
      NodeProto.Builder dq =
          NodeProto.newBuilder().setOpType("DequantizeLinear").setName(t + "_DequantizeLinear")
              .setDomain(domain).addInput(qOut).addInput(scale).addInput(zero).addOutput(output);
      if (p.perChannel()) {
        AttributeProto axis = AttributeProto.newBuilder().setName("axis")
            .setType(AttributeProto.AttributeType.INT).setI(p.axis()).build();
        q.addAttribute(axis);
        dq.addAttribute(axis);
      }
      List<NodeProto> pair = List.of(q.build(), dq.build());
      if (producer.containsKey(t)) {
        after.computeIfAbsent(t, k -> new ArrayList<>()).addAll(pair);
      } else {
        atStart.addAll(pair);
      }
    }
    gb.clearNode();
    atStart.forEach(gb::addNode);
    for (NodeProto n : g.getNodeList()) {
      NodeProto.Builder b = n.toBuilder();
      for (int k = 0; k < b.getInputCount(); k++) {
        String r = consumerRename.get(b.getInput(k));
        if (r != null) {
          b.setInput(k, r);
        }
      }
      for (int k = 0; k < b.getOutputCount(); k++) {
        String r = producerRename.get(b.getOutput(k));
        if (r != null) {
          b.setOutput(k, r);
        }
      }
      gb.addNode(b);
      for (String o : n.getOutputList()) {
        after.getOrDefault(o, List.of()).forEach(gb::addNode);
      }
    }
    ModelProto.Builder mb = m.toBuilder().setGraph(gb);
    if (needsMs && floatModel.opset(MS_DOMAIN) == 0) {
      mb.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(MS_DOMAIN).setVersion(1));
    }
    return mb.build();
  }

  private static TensorProto scaleTensor(String name, QParams p) {
    INDArray s = org.nd4j.linalg.factory.Nd4j.createFromArray(p.scale());
    if (!p.perChannel()) {
      s = s.reshape(new long[0]);
    }
    return Tensors.toProto(name, s);
  }

  private static TensorProto zeroPointTensor(String name, QParams p) {
    QType t = p.type();
    TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(t.onnxType().code());
    if (p.perChannel()) {
      b.addDims(p.channels());
    }
    long[] z = p.zeroPoint();
    ByteBuffer buf;
    if (t.bits() == 4) {
      buf = ByteBuffer.allocate((z.length + 1) / 2);
      for (int i = 0; i < z.length; i += 2) {
        int lo = (int) z[i] & 0xf;
        int hi = i + 1 < z.length ? ((int) z[i + 1] & 0xf) : 0;
        buf.put((byte) (lo | hi << 4));
      }
    } else if (t.bits() == 8) {
      buf = ByteBuffer.allocate(z.length);
      for (long v : z) {
        buf.put((byte) v);
      }
    } else {
      buf = ByteBuffer.allocate(z.length * 2).order(ByteOrder.LITTLE_ENDIAN);
      for (long v : z) {
        buf.putShort((short) v);
      }
    }
    return b.setRawData(ByteString.copyFrom(buf.array())).build();
  }
}
