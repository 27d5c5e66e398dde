package dev.qdebug.cli;

import dev.qdebug.UsageException;
import dev.qdebug.notebook.Kernelspec;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code kernel install}: writes the kernelspec ({@code kernels/NAME/kernel.json}) that starts
 * this jar with this JVM, into the folder {@code jupyter kernelspec install} would use.
 */
@Command(
    name = "install",
    description = "Writes the kernelspec so Jupyter offers the 'Java (qdebug)' kernel.")
public final class KernelInstallCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @ArgGroup(exclusive = true)
  Where where;

  static final class Where {
    @Option(names = "--user", description = "for this user only (Jupyter's data folder)")
    boolean user;

    @Option(names = "--prefix", paramLabel = "DIR", description = "into DIR/share/jupyter/kernels")
    Path prefix;
  }

  @Option(names = "--name", paramLabel = "NAME", defaultValue = Kernelspec.DEFAULT_NAME,
      description = "kernel name (default: ${DEFAULT-VALUE})")
  String name;

  @Override
  public Integer call() {
    Kernelspec.checkName(name);
    Path dataDir;
    if (where != null && where.prefix != null) {
      dataDir = Kernelspec.prefixDataDir(where.prefix.toAbsolutePath());
    } else if (where != null && where.user) {
      dataDir =
          Kernelspec.userDataDir(
              System.getenv(), System.getProperty("os.name"), Path.of(System.getProperty("user.home")));
    } else {
      dataDir = Kernelspec.systemDataDir(System.getenv(), System.getProperty("os.name"));
    }
    Path dir = Kernelspec.install(dataDir, name, java(), jar());
    spec.commandLine().getOut().println("Installed kernelspec " + name + " in " + dir);
    if (where != null && where.prefix != null) {
      spec.commandLine()
          .getOut()
          .println("Jupyter finds it with JUPYTER_PATH=" + dataDir);
    }
    return 0;
  }

  /** The java launcher running this JVM. */
  static Path java() {
    Path p = Path.of(System.getProperty("java.home"), "bin", isWindows() ? "java.exe" : "java");
    return Files.isExecutable(p)
        ? p
        : Path.of(ProcessHandle.current().info().command().orElse("java"));
  }

  /** The jar this class was loaded from. */
  static Path jar() {
    try {
      Path p =
          Path.of(KernelInstallCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI())
              .toAbsolutePath();
      if (!Files.isRegularFile(p) || !p.toString().endsWith(".jar")) {
        throw new UsageException(
            "kernel install: run it from qdebug's jar (java -jar target/qdebug.jar kernel install),"
                + " not from " + p);
      }
      return p;
    } catch (URISyntaxException | SecurityException e) {
      throw new UsageException("kernel install: cannot tell where qdebug's jar is: " + e.getMessage());
    }
  }

  private static boolean isWindows() {
    return System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT).startsWith("windows");
  }
}
