package dev.qdebug;

/** A model that cannot be read, compiled or run: names the file, node, op or tensor at fault. */
public class ModelException extends QdebugException {
  public ModelException(String message) {
    super(message);
  }

  public ModelException(String message, Throwable cause) {
    super(message, cause);
  }
}
