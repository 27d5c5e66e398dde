package dev.qdebug.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code kernel}: the Jupyter kernel ({@code install}; {@code run} is what Jupyter starts). */
@Command(
    name = "kernel",
    description = "Installs qdebug's Jupyter kernel (Java cells, tables and figures inline).",
    subcommands = {KernelInstallCommand.class, KernelRunCommand.class})
public final class KernelCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}
