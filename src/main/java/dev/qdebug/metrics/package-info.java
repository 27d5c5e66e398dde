/**
 * Error metrics between a float tensor and its quantized counterpart, with Horizon's exact
 * formulas (cosine-similarity, mse, mre, sqnr, chebyshev) and the standard ones beside them.
 * Pure Java over float arrays: imports nothing of qdebug, so every layer may use it.
 */
package dev.qdebug.metrics;
