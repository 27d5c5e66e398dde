package dev.qdebug.notebook;

import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import jdk.jshell.execution.LoaderDelegate;
import jdk.jshell.spi.ExecutionControl.ClassBytecodes;
import jdk.jshell.spi.ExecutionControl.ClassInstallException;
import jdk.jshell.spi.ExecutionControl.InternalException;

/**
 * Loads the classes JShell compiles for cells into one class loader whose parent is the kernel's,
 * so cell values are instances of the very classes the renderers were registered for; jars added
 * at run time join it.
 */
final class SnippetLoader implements LoaderDelegate {
  private final Map<String, byte[]> bytecodes = new ConcurrentHashMap<>();
  private final Map<String, Class<?>> loaded = new ConcurrentHashMap<>();
  private final Loader loader;

  SnippetLoader(ClassLoader parent) {
    this.loader = new Loader(parent);
  }

  ClassLoader classLoader() {
    return loader;
  }

  @Override
  public void load(ClassBytecodes[] cbcs) throws ClassInstallException {
    boolean[] installed = new boolean[cbcs.length];
    for (int i = 0; i < cbcs.length; i++) {
      bytecodes.put(cbcs[i].name(), cbcs[i].bytecodes());
    }
    for (int i = 0; i < cbcs.length; i++) {
      try {
        loaded.put(cbcs[i].name(), loader.loadClass(cbcs[i].name()));
        installed[i] = true;
      } catch (ClassNotFoundException | LinkageError e) {
        throw new ClassInstallException(
            "cannot load " + cbcs[i].name() + ": " + e.getMessage(), installed);
      }
    }
  }

  @Override
  public void classesRedefined(ClassBytecodes[] cbcs) {
    for (ClassBytecodes c : cbcs) {
      bytecodes.put(c.name(), c.bytecodes());
    }
  }

  @Override
  public void addToClasspath(String path) throws InternalException {
    for (String p : path.split(java.io.File.pathSeparator)) {
      if (p.isBlank()) {
        continue;
      }
      try {
        loader.addURL(Path.of(p).toAbsolutePath().toUri().toURL());
      } catch (MalformedURLException | RuntimeException e) {
        throw new InternalException("cannot add " + p + " to the class path: " + e.getMessage());
      }
    }
  }

  @Override
  public Class<?> findClass(String name) throws ClassNotFoundException {
    Class<?> c = loaded.get(name);
    return c != null ? c : loader.loadClass(name);
  }

  /** Defines cell classes from their bytecode; everything else comes from the parent first. */
  private final class Loader extends URLClassLoader {
    Loader(ClassLoader parent) {
      super("qdebug-cells", new URL[0], parent);
    }

    @Override
    protected void addURL(URL url) {
      super.addURL(url);
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
      byte[] b = bytecodes.get(name);
      if (b == null) {
        return super.findClass(name);
      }
      return defineClass(name, b, 0, b.length, (CodeSource) null);
    }
  }
}
