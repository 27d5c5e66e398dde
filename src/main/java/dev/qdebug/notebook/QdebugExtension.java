package dev.qdebug.notebook;

import org.dflib.jjava.jupyter.Extension;
import org.dflib.jjava.jupyter.kernel.BaseKernel;

/**
 * Registers qdebug's renderers with a jjava kernel: qdebug's own, and a stock jjava kernel that
 * finds this class through {@code META-INF/services} when {@code %classpath} / {@code %jars} adds
 * qdebug's jar.
 */
public final class QdebugExtension implements Extension {
  @Override
  public void install(BaseKernel kernel) {
    Renderers.register(kernel.getRenderer());
  }
}
