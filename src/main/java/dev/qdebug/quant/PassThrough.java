package dev.qdebug.quant;

import dev.qdebug.ModelException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Names for the tensors joined by nodes that are removed as pass-throughs (Q→DQ pairs,
 * HzCalibration, HzFilter): every tensor of a chain gets one name, the chain's graph output if it
 * has one (so output names survive), else the chain's first tensor (the float producer's output).
 */
final class PassThrough {
  private final Map<String, String> parent = new HashMap<>();

  /** Records that {@code from} passes through to {@code to}. */
  void join(String from, String to) {
    String a = find(from);
    String b = find(to);
    if (!a.equals(b)) {
      parent.put(b, a); // the upstream root stays the root
    }
  }

  String find(String t) {
    String r = t;
    while (parent.containsKey(r)) {
      r = parent.get(r);
    }
    return r;
  }

  /**
   * Tensor → its chain's name, for every tensor of a chain.
   *
   * @throws ModelException if a chain holds two graph outputs
   */
  Map<String, String> names(Set<String> graphOutputs, String source) {
    Map<String, List<String>> groups = new LinkedHashMap<>();
    List<String> all = new ArrayList<>(parent.keySet());
    parent.values().forEach(v -> {
      if (!all.contains(v)) {
        all.add(v);
      }
    });
    for (String t : all) {
      groups.computeIfAbsent(find(t), k -> new ArrayList<>()).add(t);
    }
    Map<String, String> out = new HashMap<>();
    for (Map.Entry<String, List<String>> g : groups.entrySet()) {
      String name = g.getKey();
      List<String> outs = g.getValue().stream().filter(graphOutputs::contains).toList();
      if (outs.size() > 1) {
        throw new ModelException(
            source + ": graph outputs " + outs + " are the same tensor behind quantization nodes");
      }
      if (outs.size() == 1) {
        name = outs.get(0);
      }
      for (String t : g.getValue()) {
        out.put(t, name);
      }
    }
    return out;
  }
}
