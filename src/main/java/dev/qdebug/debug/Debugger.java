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
  private dev.qdebug.Inputs.Scope guard; // while open, no report is saved over an input

  private Debugger(CalibratedModel model, SampleSet data, boolean owned) {
    this.model = model;
    this.data = data;
    this.owned = owned;
  }

  /** Loads a calibrated model (QDQ or Horizon) and its calibration data folder. */
  public static Debugger open(Path calibratedModel, Path calibrationData) {
    dev.qdebug.Inputs.Scope guard = dev.qdebug.Inputs.open();
    CalibratedModel m = null;
    try {
      m = CalibratedModel.load(calibratedModel);
      Debugger d = new Debugger(m, SampleSet.open(calibrationData, m.floatModel().inputs()), true);
      d.guard = guard;
      return d;
    } catch (RuntimeException e) {
      if (m != null) {
        m.close();
      }
      guard.close();
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
    return Setting.label(NodeSensitivity.run(model, data, options, progress), model);
  }

  /** {@link #getSensitivityOfNodes(NodeSensitivity.Options)} with Horizon's defaults. */
  public NodeSensitivity.Result getSensitivityOfNodes() {
    return getSensitivityOfNodes(NodeSensitivity.Options.defaults());
  }

  /** Histograms at calibration nodes and node outputs (Horizon's a.7, {@code plot_distribution}). */
  public Distribution.Result plotDistribution(Distribution.Options options) {
    return Setting.label(Distribution.run(model, data, options, progress), model);
  }

  /** Per-channel box plots of calibration nodes' tensors (Horizon's a.8). */
  public ChannelwiseDistribution.Result getChannelwiseDataDistribution(
      ChannelwiseDistribution.Options options) {
    return Setting.label(ChannelwiseDistribution.run(model, data, options, progress), model);
  }

  /** Every calibration node's parameters beside its data's statistics (Horizon's a.10). */
  public CalibrationStats.Result getCalibrationNodesStatInfo(CalibrationStats.Options options) {
    return Setting.label(CalibrationStats.run(model, data, options, progress), model);
  }

  /** {@link #getCalibrationNodesStatInfo(CalibrationStats.Options)} for every node and sample. */
  public CalibrationStats.Result getCalibrationNodesStatInfo() {
    return getCalibrationNodesStatInfo(CalibrationStats.Options.defaults());
  }

  /** Local and accumulated error of every calibration node (beyond Horizon). */
  public LayerError.Result layerError(LayerError.Options options) {
    return Setting.label(LayerError.run(model, data, options, progress), model);
  }

  /** {@link #layerError(LayerError.Options)} with its defaults. */
  public LayerError.Result layerError() {
    return layerError(LayerError.Options.defaults());
  }

  /** The samples whose outputs degrade most when quantized (HMCT's bad-case mining). */
  public SensitiveSamples.Result selectSensitiveSamples(SensitiveSamples.Options options) {
    return Setting.label(SensitiveSamples.run(model, data, options, progress), model);
  }

  /**
   * Accumulated error curves: each test model's error at every normal node's output, in graph order
   * (Horizon's a.6 {@code plot_acc_error}).
   */
  public AccumulatedError.Result plotAccError(AccumulatedError.Options options) {
    return Setting.label(AccumulatedError.run(model, data, options, progress), model);
  }

  /**
   * The partial-quantization curve: output cosine with the most sensitive nodes left in float one
   * by one, and with each quantized alone (Horizon's a.9 {@code sensitivity_analysis}).
   */
  public PartialQuantization.Result sensitivityAnalysis(PartialQuantization.Options options) {
    return Setting.label(PartialQuantization.run(model, data, options, progress), model);
  }

  /**
   * The fewest most-sensitive nodes to leave in float (or raise to int16) to meet an accuracy or
   * output-cosine target, and the partially quantized model (beyond Horizon).
   */
  public AutoPartialQuantization.Result autoPartialQuantization(
      AutoPartialQuantization.Options options) {
    return Setting.label(AutoPartialQuantization.run(model, data, options, progress), model);
  }

  /**
   * Top-1 on labeled data of the float model, the calibrated model and the calibrated model with
   * its top-k sensitive nodes left in float: the tutorial's table (beyond Horizon's tool).
   */
  public AccuracyTable.Result accuracyTable(AccuracyTable.Options options) {
    return Setting.label(AccuracyTable.run(model, data, options, progress), model);
  }

  /**
   * The cause of each of the most sensitive nodes' error with its evidence, the fixes tried on
   * each node alone, and a fixed model combining the winners (beyond Horizon).
   */
  public Diagnose.Result diagnose(Diagnose.Options options) {
    return Diagnose.run(model, data, options, progress);
  }

  /**
   * Every analysis, each in a sub-folder of {@code saveDir}, with an {@code index.html} linking
   * every figure and table (Horizon's {@code runall}).
   */
  public RunAll.Result runall(Path saveDir, RunAll.Options options) {
    return RunAll.run(this, saveDir, options);
  }

  @Override
  public void close() {
    if (owned) {
      model.close();
    }
    if (guard != null) {
      guard.close();
    }
  }
}
