package dev.qdebug.engine;

import static dev.qdebug.engine.OrtOracle.f32;
import static dev.qdebug.engine.OrtOracle.floats;
import static dev.qdebug.engine.OrtOracle.i32;
import static dev.qdebug.engine.OrtOracle.i64;
import static dev.qdebug.engine.OrtOracle.longsRange;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.QdebugException;
import dev.qdebug.engine.OrtOracle.Case;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The shape / data-movement ops at the opset forms the ONNX node tests do not cover (older
 * attribute forms, int32 operands, int64 data, zero-size tensors), each checked against
 * onnxruntime.
 */
class ShapeOpsTest {
  @org.junit.jupiter.api.BeforeEach
  void seed() {
    OrtOracle.RANDOM.setSeed(42);
  }

  private static Case c(String op, int opset) {
    return new Case(op, opset);
  }

  @Test
  void constantAttributeForms() throws Exception {
    c("Constant", 13).attr("value_float", 2.5f).check();
    c("Constant", 13).attrFloats("value_floats", 1f, 2f, 3f).check();
    c("Constant", 13).attr("value_int", 7L).check();
    c("Constant", 13).attrInts("value_ints", 4, 5, 1L << 40).check();
    c("Constant", 11).attr("value", longsRange(2, 3)).check();
    c("Constant", 9).attr("value", floats(3, 1)).check();
  }

  @Test
  void shapeAndConstantOfShape() throws Exception {
    c("Shape", 13).in(floats(2, 3, 4)).check();
    c("Shape", 15).in(floats(2, 3, 4)).attr("start", -2L).check();
    c("Shape", 15).in(floats(2, 3, 4)).attr("start", 1L).attr("end", -1L).check();
    c("Shape", 15).in(floats(2, 3, 4)).attr("start", 3L).attr("end", 1L).check();
    c("Shape", 13).in(Nd4j.scalar(2f)).check();
    c("ConstantOfShape", 9).in(i64(2, 3)).check();
    c("ConstantOfShape", 9).in(i64(2, 0, 3)).attr("value", i64(5)).check();
    c("ConstantOfShape", 20).in(i64(4)).attr("value", i64(1L << 50)).check();
    c("ConstantOfShape", 20).in(i64()).attr("value", f32(1.5f)).check();
    c("ConstantOfShape", 20).in(i64(2, 2)).attr("value", i32(-3)).check();
  }

  @Test
  void flattenAndReshape() throws Exception {
    for (int opset : new int[] {9, 11, 13}) {
      for (long axis : new long[] {0, 1, 2, 3, -1, -3}) {
        if (opset < 11 && axis < 0) {
          continue;
        }
        c("Flatten", opset).in(floats(2, 3, 4)).attr("axis", axis).check();
      }
    }
    c("Flatten", 13).in(longsRange(2, 3, 4)).check();
    c("Reshape", 5).in(floats(2, 3, 4), i64(0, -1)).check();
    c("Reshape", 13).in(longsRange(2, 3, 4), i64(4, 0, 2)).check();
    c("Reshape", 14).in(floats(2, 3, 4), i64(-1)).check();
    c("Reshape", 14).in(floats(2, 0, 4), i64(0, 4)).attr("allowzero", 1L).check();
    c("Reshape", 14).in(floats(1, 1), i64()).check();
  }

  @Test
  void transpose() throws Exception {
    c("Transpose", 13).in(floats(2, 3, 4, 5)).attrInts("perm", 0, 2, 3, 1).check();
    c("Transpose", 13).in(floats(2, 3, 4, 5)).check();
    c("Transpose", 13).in(longsRange(2, 3, 4)).attrInts("perm", 2, 0, 1).check();
    c("Transpose", 9).in(floats(1, 3, 1, 5)).attrInts("perm", 2, 1, 0, 3).check();
    c("Transpose", 13).in(floats(7, 1)).attrInts("perm", 1, 0).check();
    c("Transpose", 13).in(floats(0, 3)).attrInts("perm", 1, 0).check();
  }

  @Test
  void concat() throws Exception {
    c("Concat", 4).in(floats(2, 3), floats(2, 1), floats(2, 2)).attr("axis", 1L).check();
    c("Concat", 11).in(longsRange(2, 3), longsRange(2, 1)).attr("axis", -1L).check();
    c("Concat", 13).in(i64(1, 2), i64(), i64(5)).attr("axis", 0L).check();
    c("Concat", 13).in(floats(2, 0, 3), floats(2, 2, 3)).attr("axis", 1L).check();
    c("Concat", 13).in(floats(2, 2, 3), floats(1, 2, 3), floats(3, 2, 3)).attr("axis", 0L).check();
  }

  @Test
  void split() throws Exception {
    c("Split", 11).in(floats(6, 4)).attrInts("split", 1, 2, 3).outputs(3).check();
    c("Split", 11).in(floats(6, 4)).attr("axis", -1L).outputs(2).check();
    c("Split", 2).in(longsRange(4, 6)).attr("axis", 1L).attrInts("split", 4, 2).outputs(2).check();
    c("Split", 13).in(floats(6, 4), i64(2, 4)).outputs(2).check();
    c("Split", 13).in(floats(6, 4), null).attr("axis", 1L).outputs(2).check();
    c("Split", 13).in(floats(6, 4), i64(0, 6, 0)).outputs(3).check();
    c("Split", 18).in(floats(7, 2)).attr("num_outputs", 3L).outputs(3).check();
    c("Split", 18).in(longsRange(2, 5)).attr("axis", 1L).attr("num_outputs", 2L).outputs(2).check();
    c("Split", 18).in(floats(2, 5), i64(1, 4)).attr("axis", -1L).outputs(2).check();
  }

  @Test
  void slice() throws Exception {
    INDArray x = floats(5, 6, 7);
    c("Slice", 9)
        .in(x)
        .attrInts("starts", 1, -3)
        .attrInts("ends", 100, -1)
        .attrInts("axes", 0, 2)
        .check();
    c("Slice", 1).in(x).attrInts("starts", 0, 2).attrInts("ends", 3, 1000).check();
    c("Slice", 10).in(x, i64(-1, 1), i64(-100, 5), i64(1, 2), i64(-1, 2)).check();
    c("Slice", 11).in(x, i32(4), i32(0), i32(-2), i32(-2)).check();
    c("Slice", 13).in(x, i64(Long.MAX_VALUE), i64(Long.MIN_VALUE), i64(0), i64(-1)).check();
    c("Slice", 13).in(longsRange(6), i64(1), i64(Long.MAX_VALUE)).check();
    c("Slice", 13).in(longsRange(6), i64(4), i64(2)).check();
    c("Slice", 13).in(x, i64(0, 0, 0), i64(5, 6, 7), i64(0, 1, 2), i64(3, 4, 5)).check();
    c("Slice", 13).in(i64(2, 3, 4, 5), i64(-2), i64(Long.MAX_VALUE)).check();
  }

  @Test
  void gather() throws Exception {
    INDArray x = floats(5, 4, 3);
    c("Gather", 11).in(x, i64(0, -1, 3)).check();
    c("Gather", 13).in(x, i32(2, 0, -4)).attr("axis", 1L).check();
    c("Gather", 13).in(x, Nd4j.scalar(DataType.LONG, 2L)).attr("axis", -1L).check();
    c("Gather", 13)
        .in(x, Nd4j.createFromArray(new long[][] {{0, 1}, {4, 2}}))
        .attr("axis", 0L)
        .check();
    c("Gather", 13).in(x, Nd4j.createFromArray(new int[][] {{0, 3, 1}})).attr("axis", 1L).check();
    c("Gather", 13).in(i64(7, 1L << 45, 9), Nd4j.scalar(DataType.LONG, 1L)).check();
    c("Gather", 13).in(i64(7, 8, 9), Nd4j.scalar(DataType.INT, -1)).check();
    c("Gather", 13).in(longsRange(3, 4), i64()).attr("axis", 1L).check();
    c("Gather", 9).in(floats(10, 8), i64(3, 3, 9)).check();
    // float data copied in place: a scalar result, empty indices, q/k/v from a [3, ...] tensor
    c("Gather", 13).in(floats(6), Nd4j.scalar(DataType.LONG, 4L)).check();
    c("Gather", 13).in(floats(5, 4), i64()).attr("axis", 0L).check();
    c("Gather", 13).in(floats(3, 2, 4, 5, 6), Nd4j.scalar(DataType.LONG, 2L)).check();
  }

  @Test
  void squeezeUnsqueeze() throws Exception {
    INDArray x = floats(1, 3, 1, 2);
    c("Squeeze", 11).in(x).attrInts("axes", 0, -2).check();
    c("Squeeze", 9).in(x).check();
    c("Squeeze", 13).in(x, i64(2)).check();
    c("Squeeze", 13).in(x).check();
    c("Squeeze", 13).in(longsRange(1, 1)).check();
    c("Unsqueeze", 11).in(floats(3, 2)).attrInts("axes", 3, 0).check();
    c("Unsqueeze", 9).in(floats(3, 2)).attrInts("axes", 1).check();
    c("Unsqueeze", 13).in(floats(3, 2), i64(-1, 0)).check();
    c("Unsqueeze", 13).in(Nd4j.scalar(DataType.LONG, 5L), i64(0)).check();
    c("Unsqueeze", 13).in(longsRange(3), i64(1, -1, 0)).check();
  }

  @Test
  void expandAndTile() throws Exception {
    c("Expand", 8).in(floats(3, 1), i64(2, 1, 6)).check();
    c("Expand", 13).in(floats(2, 3), i64(1)).check();
    c("Expand", 13).in(longsRange(1, 3), i64(4, 1)).check();
    c("Expand", 13).in(floats(1, 3, 1, 1), i64(2, 3, 4, 5)).check();
    c("Expand", 13).in(floats(3), i64(2, 0, 3)).check();
    c("Tile", 6).in(floats(2, 3), i64(2, 3)).check();
    c("Tile", 13).in(longsRange(2, 1, 3), i64(1, 4, 1)).check();
    c("Tile", 13).in(floats(2, 3), i64(1, 1)).check();
    c("Tile", 13).in(floats(2, 3), i64(0, 2)).check();
  }

  @Test
  void pad() throws Exception {
    INDArray x = floats(2, 3, 4);
    c("Pad", 2).in(x).attrInts("pads", 0, 1, 2, 0, 2, 1).attr("value", 1.5f).check();
    c("Pad", 2).in(x).attrInts("pads", 0, 1, 2, 0, 2, 1).attr("mode", "edge").check();
    c("Pad", 2).in(x).attrInts("pads", 0, 2, 3, 0, 1, 3).attr("mode", "reflect").check();
    c("Pad", 11).in(x, i64(0, 1, 2, 0, 2, 1), f32(-2f)).check();
    c("Pad", 11).in(x, i64(0, 0, 1, 0, 0, -2)).check();
    c("Pad", 11).in(x, i64(1, 2, 1, 1, 0, 3), null).attr("mode", "edge").check();
    c("Pad", 13).in(x, i64(0, 2, 3, 0, 1, 2)).attr("mode", "reflect").check();
    c("Pad", 13)
        .in(longsRange(2, 3), i64(1, 1, 0, 2), Nd4j.scalar(DataType.LONG, 1L << 42))
        .check();
    c("Pad", 18).in(x, i64(1, 2, 3, 0), null, i64(0, -1)).check();
    c("Pad", 19).in(x, i64(0, 2, 3, 0, 1, 2)).attr("mode", "wrap").check();
    // pads longer than the axis wrap around again, as numpy.pad (the ONNX reference) does
    INDArray w =
        c("Pad", 19).in(f32(1, 2, 3), i64(4, 5)).attr("mode", "wrap").runQdebug().get("y0");
    assertArrayEquals(new float[] {3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2}, w.toFloatVector(), 0f);
    c("Pad", 13).in(floats(1, 3, 8, 8), i64(0, 0, 1, 1, 0, 0, 1, 1)).check();
  }

  @Test
  void depthSpace() throws Exception {
    c("DepthToSpace", 13).in(floats(2, 8, 3, 2)).attr("blocksize", 2L).check();
    c("DepthToSpace", 13).in(floats(2, 8, 3, 2)).attr("blocksize", 2L).attr("mode", "CRD").check();
    c("DepthToSpace", 11).in(floats(1, 9, 2, 2)).attr("blocksize", 3L).check();
    c("SpaceToDepth", 13).in(floats(2, 3, 4, 6)).attr("blocksize", 2L).check();
    c("SpaceToDepth", 13).in(floats(1, 2, 6, 3)).attr("blocksize", 3L).check();
  }

  @Test
  void resizeOpset10AndUpsample() throws Exception {
    INDArray x = floats(1, 2, 5, 4);
    for (String mode : new String[] {"nearest", "linear"}) {
      for (float[] s :
          new float[][] {{1, 1, 2, 3}, {1, 1, 0.5f, 0.5f}, {1, 1, 1.5f, 0.6f}, {1, 1, 2.5f, 1}}) {
        c("Resize", 10).in(x, f32(s)).attr("mode", mode).check();
        if (s[2] >= 1 && s[3] >= 1) { // onnxruntime's Upsample only enlarges
          c("Upsample", 9).in(x, f32(s)).attr("mode", mode).check();
          c("Upsample", 7).in(x).attrFloats("scales", s).attr("mode", mode).check();
        }
      }
    }
    c("Upsample", 9)
        .in(
            Nd4j.createFromArray(new int[] {1, -2, 3, 4, 5, 6}).reshape(1, 1, 2, 3),
            f32(1, 1, 2, 2))
        .check();
  }

  @Test
  void resizeNearestModes() throws Exception {
    INDArray x = floats(2, 3, 6, 5);
    String[] coords = {
      "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"
    };
    String[] modes = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    for (String coord : coords) {
      for (String nm : modes) {
        for (long[] sizes : new long[][] {{2, 3, 13, 9}, {2, 3, 3, 2}, {2, 3, 6, 1}}) {
          c("Resize", 13)
              .in(x, null, null, i64(sizes))
              .attr("mode", "nearest")
              .attr("coordinate_transformation_mode", coord)
              .attr("nearest_mode", nm)
              .check();
        }
        if (coord.equals("align_corners")) {
          continue; // see resizeAlignCornersWithFractionalSize
        }
        c("Resize", 11)
            .in(x, f32(), f32(1, 1, 2.4f, 0.7f))
            .attr("coordinate_transformation_mode", coord)
            .attr("nearest_mode", nm)
            .check();
      }
    }
    c("Resize", 13)
        .in(
            Nd4j.createFromArray(new int[] {5, -7, 9, 1 << 30}).reshape(1, 1, 2, 2),
            null,
            f32(1, 1, 2, 1.5f))
        .check();
  }

  @Test
  void resizeLinearAndCubic() throws Exception {
    INDArray x = floats(1, 3, 7, 6);
    String[] coords = {
      "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"
    };
    for (String mode : new String[] {"linear", "cubic"}) {
      for (String coord : coords) {
        int opset = coord.equals("half_pixel_symmetric") ? 19 : 13;
        for (float[] s : new float[][] {{1, 1, 2, 2}, {1, 1, 0.5f, 0.4f}, {1, 1, 1.7f, 0.8f}}) {
          if (coord.equals("align_corners") && s[2] != 2) {
            continue; // see resizeAlignCornersWithFractionalSize
          }
          c("Resize", opset)
              .in(x, null, f32(s))
              .attr("mode", mode)
              .attr("coordinate_transformation_mode", coord)
              .check();
        }
        c("Resize", opset)
            .in(x, null, null, i64(1, 3, 1, 11))
            .attr("mode", mode)
            .attr("coordinate_transformation_mode", coord)
            .check();
      }
      Case k = c("Resize", mode.equals("linear") ? 18 : 13).in(x, null, f32(1, 1, 1.6f, 0.5f));
      k.attr("mode", mode).attr("exclude_outside", 1L);
      if (mode.equals("linear")) {
        k.attr("antialias", 1L);
      } else {
        k.attr("cubic_coeff_a", -0.5f);
      }
      k.check();
    }
    // 3-D (trilinear) and a 1-D resize of the last axis
    c("Resize", 13)
        .in(floats(1, 2, 3, 4, 5), null, f32(1, 1, 2, 1.5f, 0.5f))
        .attr("mode", "linear")
        .check();
    c("Resize", 13).in(floats(2, 5), null, f32(1, 2)).attr("mode", "linear").check();
    // DOUBLE (which onnxruntime does not resize) computes as float does, and stays DOUBLE
    INDArray xf = floats(1, 2, 3, 3);
    INDArray yd =
        c("Resize", 11)
            .in(xf.castTo(DataType.DOUBLE), f32(), f32(1, 1, 2, 1.5f))
            .attr("mode", "linear")
            .runQdebug()
            .get("y0");
    INDArray yf =
        c("Resize", 11)
            .in(xf, f32(), f32(1, 1, 2, 1.5f))
            .attr("mode", "linear")
            .runQdebug()
            .get("y0");
    assertEquals(DataType.DOUBLE, yd.dataType());
    NodeCaseTest.assertClose("double resize", yf, yd.castTo(DataType.FLOAT));
  }

  @Test
  void resizeIntegers() throws Exception {
    INDArray x = Nd4j.createFromArray(new int[] {0, 3, 10, 255, 1, 2, 200, 7}).reshape(1, 1, 2, 4);
    for (DataType t : new DataType[] {DataType.INT, DataType.UBYTE}) {
      c("Resize", 13).in(x.castTo(t), null, f32(1, 1, 1.5f, 1.75f)).attr("mode", "linear").check();
      c("Resize", 13).in(x.castTo(t), null, f32(1, 1, 1.5f, 1.75f)).check();
    }
    // cubic overshoot saturates instead of wrapping around
    INDArray y =
        c("Resize", 13)
            .in(x.castTo(DataType.UBYTE), null, f32(1, 1, 1.5f, 1.75f))
            .attr("mode", "cubic")
            .runQdebug()
            .get("y0");
    assertEquals(DataType.UBYTE, y.dataType());
    long[] v = y.castTo(DataType.LONG).data().asLong();
    assertEquals(255, java.util.Arrays.stream(v).max().getAsLong());
    assertEquals(0, java.util.Arrays.stream(v).min().getAsLong());
  }

  /**
   * With scales whose product with the input size is fractional, align_corners divides by the
   * fractional output width minus one, as the ONNX reference and its node tests do (onnxruntime
   * divides by the integer size instead).
   */
  @Test
  void resizeAlignCornersWithFractionalSize() {
    INDArray x = Nd4j.createFromArray(new float[] {1, 2, 3, 4}).reshape(1, 1, 1, 4);
    INDArray y =
        c("Resize", 13)
            .in(x, null, f32(1, 1, 1, 0.6f))
            .attr("mode", "linear")
            .attr("coordinate_transformation_mode", "align_corners")
            .runQdebug()
            .get("y0");
    assertArrayEquals(new long[] {1, 1, 1, 2}, y.shape());
    assertEquals(1.0, y.getDouble(0), 1e-6);
    assertEquals(1 + 3 / 1.4, y.getDouble(1), 1e-5);
  }

  @Test
  void resizeCropAndResize() throws Exception {
    INDArray x = floats(1, 2, 6, 6);
    for (String mode : new String[] {"nearest", "linear", "cubic"}) {
      c("Resize", 13)
          .in(x, f32(0, 0, -0.2f, 0.35f, 1, 1, 0.8f, 1.4f), null, i64(1, 2, 5, 4))
          .attr("mode", mode)
          .attr("coordinate_transformation_mode", "tf_crop_and_resize")
          .attr("extrapolation_value", 9f)
          .check();
    }
  }

  @Test
  void resizeOpset18Attributes() throws Exception {
    INDArray x = floats(1, 2, 8, 6);
    c("Resize", 18).in(x, null, f32(2, 0.5f)).attrInts("axes", 3, 2).attr("mode", "linear").check();
    c("Resize", 18)
        .in(x, null, null, i64(5, 5))
        .attrInts("axes", 2, 3)
        .attr("keep_aspect_ratio_policy", "not_larger")
        .check();
    c("Resize", 18)
        .in(x, null, null, i64(5, 5))
        .attrInts("axes", 2, 3)
        .attr("keep_aspect_ratio_policy", "not_smaller")
        .check();
    c("Resize", 18)
        .in(x, null, f32(1, 1, 0.5f, 0.4f))
        .attr("mode", "linear")
        .attr("antialias", 1L)
        .check();
    c("Resize", 18)
        .in(x, null, f32(1, 1, 0.3f, 0.6f))
        .attr("mode", "cubic")
        .attr("antialias", 1L)
        .check();
  }

  @Test
  void otherElementTypes() throws Exception {
    INDArray b =
        Nd4j.createFromArray(new boolean[] {true, false, false, true, true, false}).reshape(2, 3);
    INDArray u8 =
        Nd4j.createFromArray(new int[] {0, 255, 7, 128, 3, 9}).castTo(DataType.UBYTE).reshape(2, 3);
    INDArray i8 =
        Nd4j.createFromArray(new int[] {-128, 127, 7, -1, 3, 9})
            .castTo(DataType.BYTE)
            .reshape(2, 3);
    INDArray i32 = Nd4j.createFromArray(new int[] {-5, 1 << 30, 7, -1, 3, 9}).reshape(2, 3);
    INDArray f16 = floats(2, 3).castTo(DataType.HALF);
    INDArray f64 = floats(2, 3).castTo(DataType.DOUBLE);
    for (INDArray x : List.of(b, u8, i8, i32, f16, f64)) {
      c("Transpose", 13).in(x).check();
      c("Concat", 13).in(x, x).attr("axis", 1L).check();
      c("Gather", 13).in(x, i64(1, 0, 1)).check();
      c("Slice", 13).in(x, i64(2), i64(0), i64(1), i64(-1)).check();
      c("Expand", 13).in(x, i64(2, 1, 1)).check();
      c("Split", 13).in(x, i64(1, 2)).attr("axis", 1L).outputs(2).check();
      c("Reshape", 13).in(x, i64(3, 2)).check();
      c("Unsqueeze", 13).in(x, i64(1)).check();
      if (x != b) {
        c("Tile", 13).in(x, i64(2, 2)).check();
        c("Pad", 13).in(x, i64(1, 0, 0, 2)).attr("mode", "edge").check();
      }
    }
  }

  /** Inputs that are views (permuted, offset) of other arrays, as other ops may produce. */
  @Test
  void viewInputs() throws Exception {
    INDArray permuted = floats(4, 3, 2).permute(2, 0, 1);
    INDArray offset =
        floats(3, 2, 6)
            .get(
                org.nd4j.linalg.indexing.NDArrayIndex.point(1),
                org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 5));
    INDArray offsetLong = longsRange(3, 4).getRow(2);
    for (INDArray x : List.of(permuted, offset)) {
      long r = x.rank();
      c("Reshape", 13).in(x, i64(-1)).check();
      c("Flatten", 13).in(x).check();
      c("Transpose", 13).in(x).check();
      c("Slice", 13).in(x, i64(1), i64(-1), i64(-1)).check();
      c("Gather", 13).in(x, i64(1, 0)).attr("axis", 1L).check();
      c("Concat", 13).in(x, x).attr("axis", 0L).check();
      c("Pad", 13).in(x, r == 3 ? i64(0, 1, 0, 1, 0, 1) : i64(0, 1, 1, 0)).check();
      c("Unsqueeze", 13).in(x, i64(0)).check();
      c("Resize", 13).in(x, null, r == 3 ? f32(1, 2, 2) : f32(2, 2)).attr("mode", "linear").check();
    }
    c("Gather", 13).in(offsetLong, i64(3, 0)).check();
    c("Concat", 13).in(offsetLong, offsetLong).attr("axis", 0L).check();
    c("Expand", 13).in(offsetLong, i64(2, 4)).check();
  }

  @Test
  void int64ResultsStayInt64() {
    Map<String, INDArray> out = c("Gather", 13).in(i64(1, 2, 3), i64(2)).runQdebug();
    assertEquals(DataType.LONG, out.get("y0").dataType());
    out = c("Shape", 13).in(floats(2, 2)).runQdebug();
    assertEquals(DataType.LONG, out.get("y0").dataType());
    assertArrayEquals(new long[] {2, 2}, out.get("y0").toLongVector());
  }

  @Test
  void inputsAreNotModified() {
    INDArray x = floats(2, 3, 4);
    INDArray before = x.dup();
    for (Case k :
        List.of(
            c("Transpose", 13).in(x),
            c("Slice", 13).in(x, i64(0), i64(1)),
            c("Pad", 13).in(x, i64(0, 0, 1, 0, 0, 1)),
            c("Reshape", 13).in(x, i64(-1)),
            c("Resize", 13).in(x, null, f32(1, 2, 2)).attr("mode", "linear"))) {
      k.runQdebug();
    }
    assertEquals(before, x);
  }

  @Test
  void badOperandsNameTheNode() {
    QdebugException e =
        assertThrows(
            QdebugException.class, () -> c("Reshape", 13).in(floats(2, 3), i64(4, -1)).runQdebug());
    assertTrue(e.getMessage().contains("Reshape"), e.getMessage());
    e =
        assertThrows(
            QdebugException.class, () -> c("Gather", 13).in(floats(2, 3), i64(5)).runQdebug());
    assertTrue(e.getMessage().contains("out of range"), e.getMessage());
    e =
        assertThrows(
            QdebugException.class,
            () -> c("Split", 13).in(floats(4), i64(1, 2)).outputs(2).runQdebug());
    assertTrue(e.getMessage().contains("split sizes"), e.getMessage());
  }
}
