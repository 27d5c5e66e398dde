package dev.qdebug;

/** Input data that does not fit the model: names the file or input, and the sample index. */
public class DataException extends QdebugException {
  public DataException(String message) {
    super(message);
  }

  public DataException(String message, Throwable cause) {
    super(message, cause);
  }
}
