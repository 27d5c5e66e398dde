package dev.qdebug;

/** A bad option or argument: names the option and what it accepts. */
public class UsageException extends QdebugException {
  public UsageException(String message) {
    super(message);
  }
}
