package dev.qdebug.engine;

import dev.qdebug.ModelException;
import dev.qdebug.onnx.OnnxNode;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which op types the engine runs, and at which opset versions. Each op type maps its
 * since-versions to factories; a node gets the newest factory whose since-version is at most the
 * model's opset (models often carry ops newer or older than their declared opset, e.g. ONNX's own
 * test cases, so an op at any version whose semantics we implement is accepted).
 */
public final class OpRegistry {
  private final Map<String, NavigableMap<Integer, OpFactory>> ops = new TreeMap<>();

  private static final OpRegistry STANDARD = createStandard();

  /** The registry with every op qdebug implements. */
  public static OpRegistry standard() {
    return STANDARD;
  }

  private static OpRegistry createStandard() {
    OpRegistry r = new OpRegistry();
    dev.qdebug.engine.ops.StandardOps.registerAll(r);
    return r;
  }

  /** Registers {@code factory} for {@code opType} from opset 1 on. */
  public OpRegistry put(String opType, OpFactory factory) {
    return put(opType, 1, factory);
  }

  /** Registers {@code factory} for {@code opType} from opset {@code sinceVersion} on. */
  public OpRegistry put(String opType, int sinceVersion, OpFactory factory) {
    ops.computeIfAbsent(opType, k -> new TreeMap<>()).put(sinceVersion, factory);
    return this;
  }

  public boolean supports(String opType) {
    return ops.containsKey(opType);
  }

  /** Supported op types, sorted. */
  public Set<String> opTypes() {
    return new TreeSet<>(ops.keySet());
  }

  /**
   * Builds the op for {@code node}.
   *
   * @throws ModelException naming the op type, node and opset when the op is not supported
   */
  public Op create(OnnxNode node, int opset) {
    if (!node.domain().isEmpty()) {
      throw new ModelException(
          node.describe()
              + ": op domain '"
              + node.domain()
              + "' is not supported (only the default ONNX domain is)");
    }
    NavigableMap<Integer, OpFactory> versions = ops.get(node.opType());
    if (versions == null) {
      throw new ModelException(
          "unsupported op '"
              + node.opType()
              + "' at "
              + node.describe()
              + ", opset "
              + opset
              + "; supported ops: "
              + String.join(", ", opTypes()));
    }
    Map.Entry<Integer, OpFactory> e = versions.floorEntry(opset);
    if (e == null) {
      e = versions.firstEntry();
    }
    return e.getValue().create(node, opset);
  }
}
