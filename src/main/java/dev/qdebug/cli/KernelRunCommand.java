package dev.qdebug.cli;

import dev.qdebug.notebook.QdebugKernel;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code kernel run CONNECTION_FILE}: the kernel process Jupyter starts (hidden). */
@Command(name = "run", hidden = true, description = "Runs the kernel (Jupyter starts this).")
public final class KernelRunCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "CONNECTION_FILE", description = "written by Jupyter")
  Path connectionFile;

  @Override
  public Integer call() {
    QdebugKernel.run(connectionFile);
    return 0;
  }
}
