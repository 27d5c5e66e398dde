package dev.qdebug.debug;

import dev.qdebug.quant.CalibratedModel;
import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.TensorKind;
import dev.qdebug.viz.Plot;
import java.lang.reflect.RecordComponent;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The quantization setting a calibrated model stands for, in words ("int4 weights per channel, int8
 * activations"), and the step that writes it under the title of every figure of a result.
 */
public final class Setting {
  private Setting() {}

  /** The weights' and activations' types (and the weights' granularity) of {@code model}. */
  public static String of(CalibratedModel model) {
    Set<String> w = new TreeSet<>();
    Set<String> a = new TreeSet<>();
    boolean perChannel = false;
    boolean perTensor = false;
    for (CalibrationNode c : model.nodes()) {
      if (c.kind() == TensorKind.WEIGHT) {
        w.add(c.params().type().label());
        if (c.params().perChannel()) {
          perChannel = true;
        } else {
          perTensor = true;
        }
      } else {
        a.add(c.params().type().label());
      }
    }
    StringBuilder b = new StringBuilder();
    if (!w.isEmpty()) {
      b.append(String.join("/", w)).append(" weights");
      if (perChannel != perTensor) {
        b.append(perChannel ? " per channel" : " per tensor");
      }
    }
    if (!a.isEmpty()) {
      b.append(b.length() == 0 ? "" : ", ").append(String.join("/", a)).append(" activations");
    }
    return b.length() == 0 ? "no calibration nodes" : b.toString();
  }

  /** Puts {@link #of(CalibratedModel)} under the title of every figure in {@code result}. */
  public static <T> T label(T result, CalibratedModel model) {
    String s = of(model);
    walk(result, s, java.util.Collections.newSetFromMap(new IdentityHashMap<>()), 0);
    return result;
  }

  private static void walk(Object v, String setting, Set<Object> seen, int depth) {
    if (v == null || depth > 4 || !seen.add(v)) {
      return;
    }
    if (v instanceof Plot p) {
      if (p.subtitle() == null) {
        p.subtitle(setting);
      }
    } else if (v instanceof Collection<?> c) {
      c.forEach(x -> walk(x, setting, seen, depth + 1));
    } else if (v instanceof Map<?, ?> m) {
      m.values().forEach(x -> walk(x, setting, seen, depth + 1));
    } else if (v instanceof Record r) {
      for (RecordComponent rc : r.getClass().getRecordComponents()) {
        try {
          rc.getAccessor().setAccessible(true);
          walk(rc.getAccessor().invoke(r), setting, seen, depth + 1);
        } catch (ReflectiveOperationException | RuntimeException e) {
          // a component we cannot read holds no figure we must label
        }
      }
    }
  }
}
