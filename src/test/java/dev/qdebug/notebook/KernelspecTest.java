package dev.qdebug.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.qdebug.Cli;
import dev.qdebug.UsageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelspecTest {
  @TempDir Path tmp;

  @Test
  void kernelJsonStartsTheJarWithPassiveOpenMpAndMessageInterrupts() throws Exception {
    Path java = Path.of("/opt/jdk/bin/java");
    Path jar = Path.of("/x/qdebug.jar");
    Path dir = Kernelspec.install(Kernelspec.prefixDataDir(tmp), "qdebug", java, jar);
    assertEquals(tmp.resolve("share/jupyter/kernels/qdebug"), dir);
    JsonNode spec = JsonMapper.builder().build().readTree(Files.readString(dir.resolve("kernel.json")));
    List<String> argv = new java.util.ArrayList<>();
    spec.get("argv").forEach(a -> argv.add(a.asText()));
    assertEquals(List.of("/opt/jdk/bin/java", "-Xmx" + Kernelspec.HEAP, "-XX:+UseG1GC", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30", "-XX:G1PeriodicGCInterval=5000", "-Dorg.bytedeco.javacpp.maxphysicalbytes=0", "-Dqdebug.memory.tensorBytes=192m", "-jar", "/x/qdebug.jar", "kernel", "run", "{connection_file}"), argv);
    assertEquals("PASSIVE", spec.get("env").get("OMP_WAIT_POLICY").asText());
    assertEquals("java", spec.get("language").asText());
    assertEquals("Java (qdebug)", spec.get("display_name").asText());
    assertEquals("message", spec.get("interrupt_mode").asText(), "a SIGINT would end the JVM");
    assertEquals("Java (qdebug: dev)", JsonMapper.builder().build().readTree(Kernelspec.json(java, jar, "dev")).get("display_name").asText());
  }

  @Test
  void namesAreCheckedAsJupyterDoes() {
    Kernelspec.checkName("qdebug-1.0_x");
    UsageException e = assertThrows(UsageException.class, () -> Kernelspec.checkName("a/b"));
    assertTrue(e.getMessage().startsWith("--name: 'a/b'"), e.getMessage());
  }

  @Test
  void theUserFolderIsJupytersDataDir() {
    Path home = Path.of("/home/u");
    assertEquals(Path.of("/j"), Kernelspec.userDataDir(Map.of("JUPYTER_DATA_DIR", "/j"), "Linux", home));
    assertEquals(home.resolve(".local/share/jupyter"), Kernelspec.userDataDir(Map.of(), "Linux", home));
    assertEquals(Path.of("/xdg/jupyter"), Kernelspec.userDataDir(Map.of("XDG_DATA_HOME", "/xdg"), "Linux", home));
    assertEquals(home.resolve("Library/Jupyter"), Kernelspec.userDataDir(Map.of(), "Mac OS X", home));
    assertEquals(Path.of("/usr/local/share/jupyter"), Kernelspec.systemDataDir(Map.of(), "Linux"));
  }

  @Test
  void theCommandLineRefusesBadOptionsWithStatusTwo() {
    Cli.Result r = Cli.run("kernel", "install", "--user", "--prefix", tmp.toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("mutually exclusive"), r.err());
    r = Cli.run("kernel", "install", "--prefix", tmp.toString(), "--name", "a b");
    assertEquals(2, r.status());
    assertEquals("qdebug: --name: 'a b' is not a kernel name (letters, digits, '.', '_' and '-' only)", r.err().strip());
    r = Cli.run("kernel", "run", tmp.resolve("missing.json").toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("missing.json"), r.err());
    r = Cli.run("kernel", "--help");
    assertEquals(0, r.status());
    assertTrue(r.out().contains("install") && !r.out().contains(" run "), "run is hidden: " + r.out());
  }
}
