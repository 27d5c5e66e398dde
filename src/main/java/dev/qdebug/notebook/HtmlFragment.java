package dev.qdebug.notebook;

/**
 * HTML to show as it is in a notebook (as {@code text/html}, with {@code text} for plain-text
 * frontends). Made by {@link Notebook#html(String)}.
 *
 * @param html the markup, shown unchanged: escape what came from outside
 * @param text what frontends without HTML show
 */
public record HtmlFragment(String html, String text) {
  /** Checks both parts are present. */
  public HtmlFragment {
    java.util.Objects.requireNonNull(html, "html");
    java.util.Objects.requireNonNull(text, "text");
  }
}
