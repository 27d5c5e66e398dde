package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.engine.Workspaces;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastAddOp;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastMulOp;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastSubOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * BatchNormalization over channel axis 1. Inference: {@code y = x * a + b} per channel with {@code
 * a = scale / sqrt(var + epsilon)} and {@code b = B - mean * a}, two native broadcast passes; the
 * coefficients are cached for the identity of the four parameter arrays. Training mode ({@code
 * training_mode = 1}, opset 14+) normalizes with the batch's own mean and population variance and
 * also returns the updated running statistics {@code running * momentum + batch * (1 - momentum)}.
 */
final class BatchNormalization implements Op {
  private final OnnxNode node;
  private final double epsilon;
  private final double momentum;
  private final boolean training;
  private volatile Coefficients cache;

  private record Coefficients(
      INDArray scale, INDArray bias, INDArray mean, INDArray var, INDArray a, INDArray b) {}

  BatchNormalization(OnnxNode node, int opset) {
    this.node = node;
    this.epsilon = node.attrFloat("epsilon", 1e-5f);
    this.momentum = node.attrFloat("momentum", 0.9f);
    long outputs = node.outputs().stream().filter(o -> !o.isEmpty()).count();
    if (opset >= 14) {
      this.training = node.attrInt("training_mode", 0) != 0;
    } else {
      if (outputs > 1) {
        throw node.error(
            "training-mode BatchNormalization of opset "
                + opset
                + " (with mean/var outputs) is not supported; only inference is");
      }
      this.training = false;
    }
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    if (x.rank() < 2) {
      throw node.error(
          "input X has shape " + Arrays.toString(x.shape()) + ", expected [N, C, ...]");
    }
    if (!x.dataType().isFPType()) {
      throw node.error("input X has element type " + x.dataType() + ", expected a float type");
    }
    long c = x.size(1);
    for (int i = 1; i <= 4; i++) {
      if (in[i] == null || in[i].length() != c) {
        throw node.error(
            "input "
                + i
                + " has shape "
                + (in[i] == null ? "none" : Arrays.toString(in[i].shape()))
                + ", expected ["
                + c
                + "] (one value per channel of X)");
      }
    }
    if (training) {
      return train(x, in[1], in[2], in[3], in[4]);
    }
    Coefficients k = coefficients(in[1], in[2], in[3], in[4], x.dataType());
    return new INDArray[] {affine(x, k.a(), k.b())};
  }

  private Coefficients coefficients(
      INDArray scale, INDArray bias, INDArray mean, INDArray var, DataType type) {
    Coefficients k = cache;
    if (k != null
        && k.scale() == scale
        && k.bias() == bias
        && k.mean() == mean
        && k.var() == var
        && k.a().dataType() == type) {
      return k;
    }
    // kept across runs: outside the session's workspace
    k =
        Workspaces.outside(
            () -> {
              INDArray a =
                  flat(scale, type).div(Transforms.sqrt(flat(var, type).add(epsilon), false));
              INDArray b = flat(bias, type).sub(flat(mean, type).mul(a));
              return new Coefficients(scale, bias, mean, var, a, b);
            });
    cache = k;
    return k;
  }

  private static INDArray flat(INDArray v, DataType type) {
    INDArray f = v.reshape(v.length());
    return f.dataType() == type ? f : f.castTo(type);
  }

  /**
   * {@code x * a + b} with a and b per channel (axis 1); on the NHWC array of a channels-last
   * {@code x} (channels last there), the result channels-last too.
   */
  private static INDArray affine(INDArray x, INDArray a, INDArray b) {
    if (ChannelsLast.is(x)) {
      INDArray nhwc = ChannelsLast.storage(x);
      INDArray y = Nd4j.createUninitialized(x.dataType(), nhwc.shape());
      Nd4j.exec(new BroadcastMulOp(nhwc, a, y, 3));
      Nd4j.exec(new BroadcastAddOp(y, b, y, 3));
      return ChannelsLast.view(y);
    }
    INDArray y = Nd4j.createUninitialized(x.dataType(), x.shape());
    Nd4j.exec(new BroadcastMulOp(x, a, y, 1));
    Nd4j.exec(new BroadcastAddOp(y, b, y, 1));
    return y;
  }

  private INDArray[] train(INDArray x, INDArray scale, INDArray bias, INDArray mean, INDArray var) {
    DataType type = x.dataType();
    int[] axes = new int[x.rank() - 1];
    axes[0] = 0;
    for (int i = 2; i < x.rank(); i++) {
      axes[i - 1] = i;
    }
    INDArray batchMean = x.mean(axes);
    INDArray centered = Nd4j.createUninitialized(type, x.shape());
    Nd4j.exec(new BroadcastSubOp(x, batchMean, centered, 1));
    INDArray batchVar = centered.mul(centered).mean(axes);
    INDArray a = flat(scale, type).div(Transforms.sqrt(batchVar.add(epsilon), false));
    INDArray b = flat(bias, type).sub(batchMean.mul(a));
    INDArray y = affine(x, a, b);
    INDArray runMean = flat(mean, type).mul(momentum).add(batchMean.mul(1 - momentum));
    INDArray runVar = flat(var, type).mul(momentum).add(batchVar.mul(1 - momentum));
    return new INDArray[] {y, runMean.castTo(mean.dataType()), runVar.castTo(var.dataType())};
  }
}
