/**
 * Figures and tables as plain values: Plotly figures (Tablesaw's jsplot) with titles, axis
 * labels and legends, and writers for self-contained offline HTML pages and CSV/JSON numbers.
 * Knows nothing of Jupyter (the {@code notebook} package renders these values) and nothing of
 * the analyses.
 */
package dev.qdebug.viz;
