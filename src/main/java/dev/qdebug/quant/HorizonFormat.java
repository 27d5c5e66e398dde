package dev.qdebug.quant;

import dev.qdebug.ModelException;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.proto.OnnxProtos.GraphProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import dev.qdebug.onnx.proto.OnnxProtos.OperatorSetIdProto;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Horizon's calibrated models ({@code *_calibrated_model.onnx}): {@code HzCalibration} nodes
 * (domain "horizon") that fake-quantize their input, with attributes {@code tensor_type}
 * ("feature" or "weight"), {@code scales}, {@code thresholds}, {@code zero_point}, {@code qtype},
 * {@code granularity}, {@code axis} and {@code switch}; {@code HzFilter} pass-through nodes at the
 * outputs. Reading strips both kinds into the float graph and keeps each HzCalibration as a
 * calibration node under its own name, switched as the file says.
 *
 * <p>Stored scales are int8-referenced (Horizon's own Python mirror computes {@code s = scale *
 * 127 / qmax}), so an int16 node's scale is {@code scales * 127 / 32767}. Rounding is ONNX's
 * (half to even); Horizon's runtime op is closed source. Nodes of float types (float16, bfloat16,
 * float32) quantize nothing here and are dropped.
 */
final class HorizonFormat {
  private HorizonFormat() {}

  static CalibratedModel read(OnnxModel model) {
    String src = model.source();
    GraphProto g = model.proto().getGraph();
    Set<String> graphOutputs = new HashSet<>();
    g.getOutputList().forEach(v -> graphOutputs.add(v.getName()));
    PassThrough chains = new PassThrough();
    Set<Integer> drop = new HashSet<>();
    List<CalibrationNode> nodes = new ArrayList<>();
    List<String> on = new ArrayList<>();
    for (OnnxNode n : model.nodes()) {
      boolean calib = n.opType().equals("HzCalibration");
      if (!calib && !n.opType().equals("HzFilter")) {
        continue;
      }
      drop.add(n.index());
      String x = n.input(0);
      chains.join(x, n.outputs().get(0));
      if (!calib) {
        continue;
      }
      String qtype = n.attrString("qtype", "int8").toLowerCase(Locale.ROOT);
      if (qtype.startsWith("float") || qtype.startsWith("bfloat")) {
        continue;
      }
      QType type;
      try {
        type = QType.parse(qtype);
      } catch (RuntimeException e) {
        throw new ModelException(src + ": " + n.describe() + ": unsupported qtype '" + qtype + "'");
      }
      float[] scales =
          n.attrFloats("scales").orElseThrow(() -> n.error("missing attribute 'scales'"));
      float[] s = new float[scales.length];
      for (int i = 0; i < s.length; i++) {
        s[i] = type.bits() == 8 ? scales[i] : scales[i] * 127f / type.qmax();
      }
      long[] zp = new long[s.length];
      n.attrInts("zero_point")
          .ifPresent(
              z -> {
                for (int i = 0; i < zp.length; i++) {
                  zp[i] = z.length == 1 ? z[0] : z[i];
                }
              });
      String granularity = n.attrString("granularity", s.length > 1 ? "per-channel" : "per-tensor");
      int axis = granularity.contains("channel") ? (int) n.attrInt("axis", 0) : -1;
      if (axis < 0 && s.length > 1) {
        throw n.error("per-tensor node with " + s.length + " scales");
      }
      QParams p;
      try {
        p = new QParams(s, zp, axis, type);
      } catch (IllegalArgumentException e) {
        throw n.error(e.getMessage()); // a zero, negative or NaN scale, a zero point out of range
      }
      String kindName = n.attrString("tensor_type", "feature");
      TensorKind kind = kindName.equals("weight") ? TensorKind.WEIGHT : TensorKind.ACTIVATION;
      // keep Horizon's own node name; it is what Horizon's tables and users refer to
      nodes.add(new CalibrationNode(n.name(), x, kind, p, QdqFormat.isSymmetric(p), "loaded"));
      if (!n.attrString("switch", "ON").equalsIgnoreCase("OFF")) {
        on.add(n.name());
      }
    }
    Map<String, String> rename = chains.names(graphOutputs, src);
    for (int i = 0; i < nodes.size(); i++) {
      CalibrationNode c = nodes.get(i);
      String t = rename.getOrDefault(c.tensor(), c.tensor());
      nodes.set(i, new CalibrationNode(c.name(), t, c.kind(), c.params(), c.symmetric(), c.method()));
    }
    GraphProto.Builder gb = g.toBuilder().clearNode();
    for (int i = 0; i < g.getNodeCount(); i++) {
      if (drop.contains(i)) {
        continue;
      }
      NodeProto.Builder b = g.getNode(i).toBuilder();
      for (int k = 0; k < b.getInputCount(); k++) {
        b.setInput(k, resolve(rename, b.getInput(k)));
      }
      for (int k = 0; k < b.getOutputCount(); k++) {
        b.setOutput(k, resolve(rename, b.getOutput(k)));
      }
      gb.addNode(b);
    }
    ModelProto.Builder mb = model.proto().toBuilder().setGraph(gb).clearOpsetImport();
    for (OperatorSetIdProto o : model.proto().getOpsetImportList()) {
      if (!o.getDomain().equals("horizon")) {
        mb.addOpsetImport(o);
      }
    }
    return new CalibratedModel(model.with(mb.build()), nodes, on);
  }

  private static String resolve(Map<String, String> rename, String name) {
    return rename.getOrDefault(name, name);
  }
}
