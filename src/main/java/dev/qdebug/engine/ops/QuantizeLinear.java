package dev.qdebug.engine.ops;

import dev.qdebug.engine.Op;
import dev.qdebug.engine.Workspaces;
import dev.qdebug.onnx.OnnxNode;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Rint;
import org.nd4j.linalg.factory.Nd4j;

/**
 * QuantizeLinear (opsets 10, 13, 19, 21+): {@code y = saturate(rint(x / scale) + zero_point)},
 * bit-exact with ONNX Runtime: it divides by the scale (never multiplies by its reciprocal),
 * rounds half to even, and saturates to the output type's range. The output type is the zero
 * point's; without a zero point, the {@code output_dtype} attribute's, else uint8. Int8, uint8,
 * int16 and uint16 are supported, per tensor or per axis ({@code axis}, default 1).
 *
 * <p>The division runs in float32 (double for a double scale; the {@code precision} attribute
 * overrides), on float16/bfloat16/int32 inputs after a cast to float32, as ONNX Runtime does. A
 * float32 input costs five native ops: divide, rint, add zero point (skipped when 0), clamp,
 * cast. Blocked quantization ({@code block_size}) and float8/4-bit/2-bit types are refused with
 * an error naming the node and the type.
 *
 * <p>The scale and zero point laid out for broadcasting are kept for the next run while the same
 * arrays come in (they are constants in practice); arrays are never modified, so this is only a
 * cache.
 */
final class QuantizeLinear implements Op {
  private final OnnxNode node;
  private final long axis;
  private final DataType outputType;
  private final DataType precision;

  /** The last layout and what it was made for: one immutable value, safe across threads. */
  private record Cached(INDArray scale, INDArray zeroPoint, long[] shape, DataType divType, QuantArgs.Layout layout) {}

  private volatile Cached cache;

  QuantizeLinear(OnnxNode node, int opset) {
    this.node = node;
    this.axis = node.attrInt("axis", 1);
    QuantArgs.rejectBlocked(node);
    this.outputType =
        QuantArgs.typeAttr(
            node, "output_dtype", "quantizing to",
            DataType.BYTE, DataType.UBYTE, DataType.SHORT, DataType.UINT16);
    this.precision =
        QuantArgs.typeAttr(
            node, "precision", "division precision",
            DataType.FLOAT, DataType.DOUBLE, DataType.HALF, DataType.BFLOAT16);
  }

  @Override
  public INDArray[] run(INDArray[] in) {
    INDArray x = in[0];
    INDArray scale = in[1];
    INDArray zp = in.length > 2 && in[2] != null ? in[2] : null;
    DataType q = zp != null ? zp.dataType() : outputType != null ? outputType : DataType.UBYTE;
    if (!QuantArgs.quantType(q)) {
      throw node.error(
          "quantizing to " + QuantArgs.onnxName(q)
              + " is not supported (int8, uint8, int16 and uint16 are)");
    }
    if (zp != null && outputType != null && outputType != q) {
      throw node.error(
          "output_dtype " + QuantArgs.onnxName(outputType) + " differs from the zero point's type "
              + QuantArgs.onnxName(q));
    }
    if (!scale.dataType().isFPType()) {
      throw node.error("scale must be floating point, got " + QuantArgs.onnxName(scale.dataType()));
    }
    DataType divType =
        precision != null ? precision : scale.dataType() == DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
    DataType compute = divType == DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
    QuantArgs.Layout p = layout(scale, zp, x.shape(), divType, compute);
    if (x.isEmpty()) {
      return new INDArray[] {Nd4j.create(q, x.shape())};
    }

    INDArray xd = x.dataType() == divType ? x : x.castTo(divType);
    INDArray t =
        p.perTensor()
            ? xd.div(divType == DataType.DOUBLE ? (Number) p.scale() : (Number) (float) p.scale())
            : Broadcast.binary("divide", xd, p.scaleArray(), divType);
    if (t.dataType() != compute) {
      t = t.castTo(compute);
    }
    Nd4j.getExecutioner().exec(new Rint(t, t));
    if (p.perTensor() && p.zeroPoint() != 0) {
      t.addi(p.zeroPoint());
    } else if (p.zeroPointArray() != null) {
      Broadcast.binaryInPlace("add", t, p.zeroPointArray());
    }
    Unary.clampInPlace(t, QuantArgs.qmin(q), QuantArgs.qmax(q));
    return new INDArray[] {t.castTo(q)};
  }

  private QuantArgs.Layout layout(
      INDArray scale, INDArray zp, long[] shape, DataType divType, DataType compute) {
    Cached c = cache;
    if (c != null && c.scale() == scale && c.zeroPoint() == zp && c.divType() == divType
        && Arrays.equals(c.shape(), shape)) {
      return c.layout();
    }
    // kept across runs: outside the session's workspace
    QuantArgs.Layout l =
        Workspaces.outside(() -> QuantArgs.layout(node, scale, zp, shape, axis, divType, compute));
    cache = new Cached(scale, zp, shape, divType, l);
    return l;
  }
}
