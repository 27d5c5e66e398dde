package dev.qdebug.quant;

import dev.qdebug.ModelException;
import dev.qdebug.engine.Tensors;
import dev.qdebug.onnx.OnnxModel;
import dev.qdebug.onnx.OnnxNode;
import dev.qdebug.onnx.proto.OnnxProtos.GraphProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Edits of a float model's weights that keep its graph: new values for initializers (equalized
 * weights), and a per-channel constant added to a node's output, folded into its bias (bias
 * correction). Every tensor and node name stays, so calibration nodes still apply by name.
 */
public final class ModelEdits {
  private ModelEdits() {}

  /** {@code model} with the initializers named in {@code values} replaced (same shapes). */
  public static OnnxModel withInitializers(OnnxModel model, Map<String, INDArray> values) {
    if (values.isEmpty()) {
      return model;
    }
    GraphProto.Builder g = model.proto().getGraph().toBuilder();
    int replaced = 0;
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = g.getInitializer(i);
      INDArray v = values.get(t.getName());
      if (v != null) {
        g.setInitializer(i, Tensors.toProto(t.getName(), v));
        replaced++;
      }
    }
    if (replaced != values.size()) {
      throw new ModelException(
          model.source() + ": not every tensor of " + values.keySet() + " is an initializer");
    }
    return model.with(model.proto().toBuilder().setGraph(g).build());
  }

  /**
   * {@code model} with {@code delta[c]} added to channel c of {@code node}'s first output
   * (channel axis 1 for Conv/ConvTranspose, the last axis otherwise): into the node's bias when
   * it has a 1-D float initializer bias of one value per channel used by no other node, else by
   * an {@code Add} inserted after the node (the node's output is renamed, the Add produces the
   * old name, so every consumer and calibration node still sees the same tensor name).
   */
  public static OnnxModel addToOutput(OnnxModel model, String node, float[] delta) {
    OnnxNode n = model.node(node);
    String op = n.opType();
    GraphProto.Builder g = model.proto().getGraph().toBuilder();
    boolean hasBiasSlot = op.equals("Conv") || op.equals("ConvTranspose") || op.equals("Gemm");
    if (hasBiasSlot && n.inputs().size() > 2 && !n.input(2).isEmpty()) {
      String b = n.input(2);
      TensorProto t = model.initializers().get(b);
      long uses =
          model.nodes().stream().flatMap(x -> x.inputs().stream()).filter(b::equals).count();
      if (t != null && uses == 1 && t.getDimsCount() == 1 && t.getDims(0) == delta.length) {
        INDArray v = Tensors.fromProto(t);
        if (v.dataType() == org.nd4j.linalg.api.buffer.DataType.FLOAT) {
          float[] f = v.dup('c').data().asFloat();
          for (int c = 0; c < f.length; c++) {
            f[c] += delta[c];
          }
          for (int i = 0; i < g.getInitializerCount(); i++) {
            if (g.getInitializer(i).getName().equals(b)) {
              g.setInitializer(i, Tensors.toProto(b, Nd4j.createFromArray(f)));
            }
          }
          return model.with(model.proto().toBuilder().setGraph(g).build());
        }
      }
    }
    String out = n.outputs().get(0);
    String pre = unique(model, out + "_before_bias_correction");
    String biasName = unique(model, node + "_bias_correction");
    boolean channelsFirst = op.equals("Conv") || op.equals("ConvTranspose");
    INDArray bias = Nd4j.createFromArray(delta.clone());
    if (channelsFirst) {
      TensorProto w = model.initializers().get(n.input(1));
      int rank = w != null ? w.getDimsCount() : outputRank(model, out);
      long[] shape = new long[Math.max(1, rank - 1)];
      java.util.Arrays.fill(shape, 1);
      shape[0] = delta.length;
      bias = bias.reshape(shape);
    }
    g.addInitializer(Tensors.toProto(biasName, bias));
    int index = n.index();
    NodeProto.Builder nb = g.getNode(index).toBuilder();
    nb.setOutput(0, pre);
    g.setNode(index, nb);
    NodeProto add =
        NodeProto.newBuilder()
            .setOpType("Add")
            .setName(unique(model, node + "/bias_correction"))
            .addInput(pre)
            .addInput(biasName)
            .addOutput(out)
            .build();
    // keep topological order: the Add right after its producer
    java.util.List<NodeProto> nodes = new java.util.ArrayList<>(g.getNodeList());
    nodes.add(index + 1, add);
    g.clearNode().addAllNode(nodes);
    ModelProto p = model.proto().toBuilder().setGraph(g).build();
    return model.with(p);
  }

  /** Rank of {@code tensor} when the model declares it, else 4 (a Conv's NCHW output). */
  private static int outputRank(OnnxModel model, String tensor) {
    for (var v : model.proto().getGraph().getValueInfoList()) {
      if (v.getName().equals(tensor) && v.getType().getTensorType().hasShape()) {
        return v.getType().getTensorType().getShape().getDimCount();
      }
    }
    for (var v : model.proto().getGraph().getOutputList()) {
      if (v.getName().equals(tensor) && v.getType().getTensorType().hasShape()) {
        return v.getType().getTensorType().getShape().getDimCount();
      }
    }
    return 4;
  }

  private static String unique(OnnxModel model, String base) {
    java.util.Set<String> used = new java.util.HashSet<>(model.initializers().keySet());
    for (OnnxNode x : model.nodes()) {
      used.add(x.name());
      used.addAll(x.inputs());
      used.addAll(x.outputs());
    }
    String s = base;
    for (int i = 1; used.contains(s); i++) {
      s = base + "_" + i;
    }
    return s;
  }
}
