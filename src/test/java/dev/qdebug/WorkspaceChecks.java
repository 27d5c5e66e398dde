package dev.qdebug;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.profiler.ProfilerConfig;

/**
 * Registered for every test class (see {@code junit-platform.properties}): turns on ND4J's
 * workspace checks, so that any op given an array whose workspace run is over (an array kept
 * across runs that should have been created outside the session's workspace) fails the test
 * instead of reading reused memory.
 */
public final class WorkspaceChecks implements BeforeAllCallback {
  private static volatile boolean on;

  @Override
  public void beforeAll(ExtensionContext context) {
    if (!on) {
      synchronized (WorkspaceChecks.class) {
        if (!on) {
          Nd4j.getExecutioner()
              .setProfilingConfig(ProfilerConfig.builder().checkWorkspaces(true).build());
          on = true;
        }
      }
    }
  }
}
