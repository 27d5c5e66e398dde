package dev.qdebug.quant;

/** What a calibration node quantizes: a constant weight, or an activation (Horizon: feature). */
public enum TensorKind {
  WEIGHT("weight"),
  ACTIVATION("feature");

  private final String horizon;

  TensorKind(String horizon) {
    this.horizon = horizon;
  }

  /** Horizon's {@code tensor_type} attribute value: "weight" or "feature". */
  public String horizonName() {
    return horizon;
  }

  /** "weight" or "activation", as tables and the CLI write it. */
  public String label() {
    return this == WEIGHT ? "weight" : "activation";
  }
}
