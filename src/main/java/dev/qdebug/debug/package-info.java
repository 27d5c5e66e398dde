/**
 * The precision-debug analyses, one class each, with Horizon-compatible semantics, and the
 * {@code Debugger} facade. Analyses run models through {@link dev.qdebug.quant.CalibratedModel}
 * and score tensors with {@code metrics}; they never call ND4J operations themselves, print
 * nothing and write no files (the facade and the command line do); long work reports through
 * {@link dev.qdebug.Progress}.
 */
package dev.qdebug.debug;
