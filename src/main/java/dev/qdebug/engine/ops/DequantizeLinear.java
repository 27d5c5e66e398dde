package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.engine.Workspaces;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DequantizeLinear (opsets 10, 13, 19, 21+): {@code y = (x - zero_point) * scale}, per tensor or
 * per axis ({@code axis}, default 1), for int8, uint8, int16, uint16 and int32 (biases; its zero
 * point is 0) inputs. The output type is the {@code output_dtype} attribute's, else the scale's;
 * the arithmetic runs in float32 (double for a double output) and is exact up to the final
 * multiplication, as in ONNX Runtime. A float32 output costs two or three native ops: cast,
 * subtract zero point (skipped when 0), multiply. Blocked quantization and float8/4-bit/2-bit
 * inputs are refused with an error naming the node and the type.
 *
 * <p>Like {@link QuantizeLinear}, keeps the laid-out scale and zero point while the same arrays
 * come in.
 */
final class DequantizeLinear implements Op {
  private final OnnxNode node;
  private final long axis;
  private final DataType outputType;

  /** The last layout and what it was made for: one immutable value, safe across threads. */
  private record Cached(INDArray scale, INDArray zeroPoint, long[] shape, QuantArgs.Layout layout) {}

  private volatile Cached cache;

  DequantizeLinear(OnnxNode node, int opset) {
    this.node = node;
    this.axis = node.attrInt("axis", 1);
    QuantArgs.rejectBlocked(node);
    this.outputType =
        QuantArgs.typeAttr(
            node, "output_dtype", "dequantizing to",
            DataType.FLOAT, DataType.DOUBLE, DataType.HALF, DataType.BFLOAT16);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    INDArray scale = in[1];
    INDArray zp = in.length > 2 && in[2] != null ? in[2] : null;
    DataType xt = x.dataType();
    if (!QuantArgs.quantType(xt) && xt != DataType.INT) {
      throw node.error(
          "dequantizing " + QuantArgs.onnxName(xt)
              + " is not supported (int8, uint8, int16, uint16 and int32 are)");
    }
    if (zp != null && zp.dataType() != xt) {
      throw node.error(
          "zero point is " + QuantArgs.onnxName(zp.dataType()) + ", input is "
              + QuantArgs.onnxName(xt));
    }
    if (!scale.dataType().isFPType()) {
      throw node.error("scale must be floating point, got " + QuantArgs.onnxName(scale.dataType()));
    }
    DataType out = outputType != null ? outputType : scale.dataType();
    DataType compute = out == DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
    // int32 subtracts its zero point in int32, before the (rounding) conversion to float
    DataType zpCompute = xt == DataType.INT ? DataType.INT : compute;
    QuantArgs.Layout p = layout(scale, zp, x.shape(), compute, zpCompute);
    if (x.isEmpty()) {
      return new INDArray[] {Nd4j.create(out, x.shape())};
    }

    INDArray t;
    if (xt == DataType.INT) {
      INDArray d = x;
      if (p.perTensor() && p.zeroPoint() != 0) {
        d = x.sub((int) p.zeroPoint());
      } else if (p.zeroPointArray() != null) {
        d = Broadcast.binary("subtract", x, p.zeroPointArray(), DataType.INT);
      }
      t = d.castTo(compute);
    } else {
      t = x.castTo(compute);
      if (p.perTensor() && p.zeroPoint() != 0) {
        t.subi(p.zeroPoint());
      } else if (p.zeroPointArray() != null) {
        Broadcast.binaryInPlace("subtract", t, p.zeroPointArray());
      }
    }
    if (p.perTensor()) {
      t.muli(compute == DataType.DOUBLE ? (Number) p.scale() : (Number) (float) p.scale());
    } else {
      Broadcast.binaryInPlace("multiply", t, p.scaleArray());
    }
    return new INDArray[] {t.dataType() == out ? t : t.castTo(out)};
  }

  private QuantArgs.Layout layout(
      INDArray scale, INDArray zp, long[] shape, DataType compute, DataType zpCompute) {
    Cached c = cache;
    if (c != null && c.scale() == scale && c.zeroPoint() == zp && Arrays.equals(c.shape(), shape)) {
      return c.layout();
    }
    // kept across runs: outside the session's workspace
    QuantArgs.Layout l =
        Workspaces.outside(() -> QuantArgs.layout(node, scale, zp, shape, axis, compute, zpCompute));
    cache = new Cached(scale, zp, shape, l);
    return l;
  }
}
