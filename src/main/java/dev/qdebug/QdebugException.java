package dev.qdebug;

/**
 * Base of every error qdebug reports about its input or its use: a bad model, bad data, a bad
 * option. The message is one line that names the offending file, node, op or option, says what
 * was found and what was expected. The command line prints it and exits with status 2.
 */
public class QdebugException extends RuntimeException {
  public QdebugException(String message) {
    super(message);
  }

  public QdebugException(String message, Throwable cause) {
    super(message, cause);
  }
}
