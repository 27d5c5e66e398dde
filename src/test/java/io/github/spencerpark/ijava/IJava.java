package io.github.spencerpark.ijava;

import io.github.spencerpark.jupyter.kernel.BaseKernel;

/**
 * Stands in for IJava's main class in tests: the one method qdebug looks up by name. IJava itself
 * is not on Maven Central; its renderer API is jupyter-jvm-basekernel's, which is.
 */
public final class IJava {
  private static volatile BaseKernel kernel;

  private IJava() {}

  public static BaseKernel getKernelInstance() {
    return kernel;
  }

  public static void setKernelInstance(BaseKernel k) {
    kernel = k;
  }
}
