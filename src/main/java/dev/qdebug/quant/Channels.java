package dev.qdebug.quant;

/** Indexing of a tensor's channels along one axis, for per-channel loops over its flat C-order data. */
public final class Channels {
  private Channels() {}

  /**
   * The number of elements after {@code axis} (the product of the later dimensions): flat C-order
   * element {@code e} lies in channel {@code (e / inner) % shape[axis]}.
   */
  public static long inner(long[] shape, int axis) {
    long inner = 1;
    for (int d = axis + 1; d < shape.length; d++) {
      inner *= shape[d];
    }
    return inner;
  }
}
