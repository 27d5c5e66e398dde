package dev.qdebug.debug;

import dev.qdebug.Progress;
import dev.qdebug.data.SampleSet;
import dev.qdebug.quant.CalibratedModel;
import java.nio.file.Path;

/**
 * The precision-debug facade: one calibrated model, its calibration data, and one method per
 * analysis, named after Horizon's ({@code get_sensitivity_of_nodes} → {@link
 * #getSensitivityOfNodes}). Each returns a result of Tablesaw tables and Plotly figures; {@link
 * Report#save} writes them (CSV and offline HTML). The command line calls the same methods.
 *
 * <pre>{@code
 * try (Debugger dbg = Debugger.open(Path.of("cal.onnx"), Path.of("calibration_data"))) {
 *   var s = dbg.getSensitivityOfNodes(NodeSensitivity.Options.defaults().dataNum(0));
 *   s.table();                       // node, cosine-similarity — most sensitive first
 *   s.save(Path.of("debug_result"));
 * }
 * }</pre>
 */
public final class Debugger implements AutoCloseable {
  private final CalibratedModel model;
  private final SampleSet data;
  private final boolean owned;
  private Progress progress = Progress.NONE;

  private Debugger(CalibratedModel model, SampleSet data, boolean owned) {
    this.model = model;
    this.data = data;
    this.owned = owned;
  }

  /** Loads a calibrated model (QDQ or Horizon) and its calibration data folder. */
  public static Debugger open(Path calibratedModel, Path calibrationData) {
    CalibratedModel m = CalibratedModel.load(calibratedModel);
    try {
      return new Debugger(m, SampleSet.open(calibrationData, m.floatModel().inputs()), true);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  /** A debugger over a model the caller keeps ownership of. */
  public static Debugger of(CalibratedModel model, SampleSet data) {
    return new Debugger(model, data, false);
  }

  /** Where long analyses report progress (a terminal bar, a notebook bar). */
  public Debugger progress(Progress p) {
    this.progress = p;
    return this;
  }

  public CalibratedModel model() {
    return model;
  }

  public SampleSet data() {
    return data;
  }

  /** Per-node quantization sensitivity, most sensitive first (Horizon's a.5). */
  public NodeSensitivity.Result getSensitivityOfNodes(NodeSensitivity.Options options) {
    return NodeSensitivity.run(model, data, options, progress);
  }

  /** {@link #getSensitivityOfNodes(NodeSensitivity.Options)} with Horizon's defaults. */
  public NodeSensitivity.Result getSensitivityOfNodes() {
    return getSensitivityOfNodes(NodeSensitivity.Options.defaults());
  }

  @Override
  public void close() {
    if (owned) {
      model.close();
    }
  }
}
