package dev.qdebug.onnx;

import java.util.Arrays;
import java.util.List;

/**
 * A graph input or output as the model declares it.
 *
 * @param name tensor name
 * @param type element type
 * @param shape dimensions, -1 where the model gives a symbolic or no size; null when the model
 *     declares no shape at all
 * @param dimNames symbolic dimension names ("" where the size is fixed or unnamed)
 */
public record ValueInfo(String name, ElemType type, long[] shape, List<String> dimNames) {

  /** True when the model declares a rank and sizes (some may be symbolic). */
  public boolean hasShape() {
    return shape != null;
  }

  @Override
  public String toString() {
    return name + ":" + type + (shape == null ? "[?]" : Arrays.toString(shape));
  }
}
