/**
 * Jupyter: qdebug's own Java kernel ({@link dev.qdebug.notebook.QdebugKernel}, cells evaluated by
 * JShell in this JVM) and the renderers that show Tablesaw tables and Plotly figures inline and
 * offline ({@link dev.qdebug.notebook.QdebugExtension}, which a stock IJava/jjava kernel loads
 * too). Notebook code uses the static helpers of {@link dev.qdebug.notebook.Notebook}. Sits on top:
 * calls the {@code debug} facade and {@code viz} values, and the jjava-jupyter library; nothing
 * below imports it.
 */
package dev.qdebug.notebook;
