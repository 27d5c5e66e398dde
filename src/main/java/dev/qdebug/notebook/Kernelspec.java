package dev.qdebug.notebook;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.qdebug.UsageException;
import dev.qdebug.viz.Html;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Jupyter's description of qdebug's kernel ({@code kernels/NAME/kernel.json}) and where Jupyter
 * looks for it: the same folders {@code jupyter kernelspec install} uses, so no Python is needed
 * to install.
 */
public final class Kernelspec {
  /** The kernel name when none is given. */
  public static final String DEFAULT_NAME = "qdebug";

  /** The kernel JVM's most heap ({@code -Xmx}); tensors live outside it, in ND4J's memory. */
  public static final String HEAP = "1g";

  /**
   * What the tensors of one batch may take in the kernel ({@code -Dqdebug.memory.tensorBytes};
   * the command line's default is 1.5 GiB): a notebook keeps its models and results between cells,
   * and an analysis whose hooks fake-quantize and read every tensor holds several times the
   * batch's tensors in its workspace (plot-acc-error on the MobileViT case study, batch 16: 1.9
   * GB resident; batches of 10: 1.4 GB).
   */
  public static final String TENSOR_BUDGET = "192m";

  private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9._-]+");

  private Kernelspec() {}

  /**
   * The {@code kernel.json} text that starts {@code jar} with {@code java}.
   *
   * @param java absolute path of the {@code java} launcher
   * @param jar absolute path of qdebug's jar
   * @param name the kernel name (shown in the display name unless it is the default)
   */
  public static String json(Path java, Path jar, String name) {
    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put(
        "argv",
        List.of(
            java.toString(),
            // the kernel's memory (notebooks: within 2 GB): a JVM heap grows to a quarter of the
            // machine's memory under the allocation rate of analyses though little of it is live
            // (calibrating the MobileViT case study: 134 MiB used, 1.7 GB committed); capped,
            // given back after collections and while the kernel idles
            "-Xmx" + HEAP,
            "-XX:+UseG1GC",
            "-XX:MinHeapFreeRatio=10",
            "-XX:MaxHeapFreeRatio=30",
            "-XX:G1PeriodicGCInterval=5000",
            // JavaCPP's default limit is 4 x -Xmx (4 GB here): no cap unless one is asked for
            // (MemoryBudget.setCeiling, or this property set to a size)
            "-Dorg.bytedeco.javacpp.maxphysicalbytes=0",
            "-D" + dev.qdebug.engine.MemoryBudget.TENSOR_BYTES_PROPERTY + "=" + TENSOR_BUDGET,
            "-jar",
            jar.toAbsolutePath().toString(),
            "kernel",
            "run",
            "{connection_file}"));
    spec.put(
        "display_name", DEFAULT_NAME.equals(name) ? "Java (qdebug)" : "Java (qdebug: " + name + ")");
    spec.put("language", "java");
    spec.put("interrupt_mode", "message");
    // glibc's arenas (one per thread that allocates: up to 8 per core) keep freed native memory
    spec.put("env", Map.of("OMP_WAIT_POLICY", "PASSIVE", "MALLOC_ARENA_MAX", "2"));
    spec.put("metadata", Map.of("debugger", false));
    try {
      return JsonMapper.builder()
              .enable(SerializationFeature.INDENT_OUTPUT)
              .build()
              .writeValueAsString(spec)
          + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Writes {@code kernels/NAME/kernel.json} under {@code jupyterDir} (a Jupyter data folder);
   * returns the kernel's folder.
   *
   * @throws UsageException if {@code name} is not a valid kernel name
   * @throws dev.qdebug.QdebugException if the file cannot be written
   */
  public static Path install(Path jupyterDir, String name, Path java, Path jar) {
    checkName(name);
    Path dir = jupyterDir.resolve("kernels").resolve(name.toLowerCase(Locale.ROOT));
    Html.writeAtomically(dir.resolve("kernel.json"), json(java, jar, name));
    return dir;
  }

  /** Checks {@code name} as Jupyter does (letters, digits, '.', '_', '-'). */
  public static void checkName(String name) {
    if (!NAME.matcher(name).matches()) {
      throw new UsageException(
          "--name: '" + name + "' is not a kernel name (letters, digits, '.', '_' and '-' only)");
    }
  }

  /** The per-user Jupyter data folder ({@code jupyter --data-dir}), from {@code env}. */
  public static Path userDataDir(Map<String, String> env, String osName, Path home) {
    String set = env.get("JUPYTER_DATA_DIR");
    if (set != null && !set.isBlank()) {
      return Path.of(set);
    }
    String os = osName.toLowerCase(Locale.ROOT);
    if (os.startsWith("windows")) {
      String appData = env.get("APPDATA");
      return appData != null ? Path.of(appData, "jupyter") : home.resolve("AppData/Roaming/jupyter");
    }
    if (os.startsWith("mac")) {
      return home.resolve("Library/Jupyter");
    }
    String xdg = env.get("XDG_DATA_HOME");
    return xdg != null && !xdg.isBlank()
        ? Path.of(xdg, "jupyter")
        : home.resolve(".local/share/jupyter");
  }

  /** The system-wide Jupyter data folder {@code jupyter kernelspec install} uses by default. */
  public static Path systemDataDir(Map<String, String> env, String osName) {
    if (osName.toLowerCase(Locale.ROOT).startsWith("windows")) {
      String programData = env.getOrDefault("PROGRAMDATA", "C:\\ProgramData");
      return Path.of(programData, "jupyter");
    }
    return Path.of("/usr/local/share/jupyter");
  }

  /** The folder {@code --prefix DIR} installs into. */
  public static Path prefixDataDir(Path prefix) {
    return prefix.resolve("share").resolve("jupyter");
  }
}
