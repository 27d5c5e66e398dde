package dev.qdebug.notebook;

import java.lang.reflect.Array;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.WeakHashMap;
import java.util.function.Supplier;

/**
 * A stock IJava kernel (SpencerPark's, on jupyter-jvm-basekernel) that loaded qdebug's jar with
 * {@code %jars}. qdebug is not compiled against IJava, so its renderer API is reached by
 * reflection; it has the same shape as jjava's (jjava is a fork).
 */
final class IJavaFrontend implements Frontend {
  static final String IJAVA = "io.github.spencerpark.ijava.IJava";
  private static final String BASE = "io.github.spencerpark.jupyter.kernel.display.";

  private final Object kernel;
  private final ClassLoader loader;

  private IJavaFrontend(Object kernel) {
    this.kernel = kernel;
    this.loader = kernel.getClass().getClassLoader();
  }

  /** The IJava kernel running in this JVM, if one is. */
  static Optional<IJavaFrontend> find() {
    try {
      Class<?> ijava = Class.forName(IJAVA, true, contextLoader());
      Object k = ijava.getMethod("getKernelInstance").invoke(null);
      return k == null ? Optional.empty() : Optional.of(new IJavaFrontend(k));
    } catch (ReflectiveOperationException | LinkageError e) {
      return Optional.empty();
    }
  }

  private static ClassLoader contextLoader() {
    ClassLoader l = Thread.currentThread().getContextClassLoader();
    return l != null ? l : IJavaFrontend.class.getClassLoader();
  }

  /** Renderers already holding qdebug's registrations. */
  private static final Set<Object> INSTALLED = Collections.newSetFromMap(new WeakHashMap<>());

  /** Registers qdebug's renderers with IJava's renderer, once. */
  void registerRenderers() {
    try {
      Object renderer = call(kernel, "getRenderer");
      synchronized (INSTALLED) {
        if (!INSTALLED.add(renderer)) {
          return;
        }
      }
      Class<?> mimeType = Class.forName(BASE + "mime.MIMEType", true, loader);
      Class<?> renderFunction = Class.forName(BASE + "RenderFunction", true, loader);
      Method parse = mimeType.getMethod("parse", String.class);
      for (Class<?> type : Renderers.types()) {
        List<String> mimes = Renderers.mimeTypes(type);
        Object preferred = Array.newInstance(mimeType, mimes.size());
        for (int i = 0; i < mimes.size(); i++) {
          Array.set(preferred, i, parse.invoke(null, mimes.get(i)));
        }
        Object registration =
            renderer.getClass().getMethod("createRegistration", Class.class).invoke(renderer, type);
        registration =
            registration
                .getClass()
                .getMethod("preferring", preferred.getClass())
                .invoke(registration, preferred);
        Object fn =
            Proxy.newProxyInstance(
                loader,
                new Class<?>[] {renderFunction},
                (proxy, m, args) -> {
                  if (m.getName().equals("render") && args != null && args.length == 2) {
                    render(args[0], args[1], mimeType, parse, mimes);
                    return null;
                  }
                  return switch (m.getName()) {
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "qdebug renderer for " + type.getName();
                    default -> null;
                  };
                });
        registration.getClass().getMethod("register", renderFunction).invoke(registration, fn);
      }
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot register qdebug's renderers with IJava: " + e, e);
    }
  }

  private static void render(Object value, Object ctx, Class<?> mimeType, Method parse, List<String> mimes)
      throws ReflectiveOperationException {
    Method renderIfRequested = ctx.getClass().getMethod("renderIfRequested", mimeType, Supplier.class);
    for (String mime : mimes) {
      Supplier<Object> s = () -> Renderers.render(value, mime);
      renderIfRequested.invoke(ctx, parse.invoke(null, mime), s);
    }
  }

  @Override
  public String display(Object value) {
    try {
      Object data = call(call(kernel, "getRenderer"), "render", value);
      Object id = call(data, "getDisplayId");
      if (id == null) {
        id = UUID.randomUUID().toString();
        data.getClass().getMethod("setDisplayId", String.class).invoke(data, id);
      }
      Method display = kernel.getClass().getMethod("display", data.getClass());
      display.invoke(kernel, data);
      return (String) id;
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("IJava cannot display: " + unwrap(e), e);
    }
  }

  @Override
  public void updateDisplay(String id, Object value) {
    try {
      Object data = call(call(kernel, "getRenderer"), "render", value);
      Object io = call(kernel, "getIO");
      Object stream = io.getClass().getField("display").get(io);
      stream.getClass().getMethod("updateDisplay", String.class, data.getClass()).invoke(stream, id, data);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("IJava cannot update a display: " + unwrap(e), e);
    }
  }

  private static Object call(Object target, String name, Object... args)
      throws ReflectiveOperationException {
    for (Method m : target.getClass().getMethods()) {
      if (m.getName().equals(name) && m.getParameterCount() == args.length
          && (args.length == 0 || m.getParameterTypes()[0] == Object.class)) {
        return m.invoke(target, args);
      }
    }
    throw new NoSuchMethodException(target.getClass().getName() + "." + name);
  }

  private static String unwrap(ReflectiveOperationException e) {
    return e instanceof InvocationTargetException ite && ite.getCause() != null
        ? ite.getCause().toString()
        : e.toString();
  }
}
