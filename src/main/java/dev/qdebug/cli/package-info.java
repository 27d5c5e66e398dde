/**
 * The command line ({@code java -jar target/qdebug.jar COMMAND}): one class per command, option
 * names exactly as in the CLI contract. Commands parse options, call the library, and write outputs
 * atomically; they exit 0 on success, 2 on bad usage or input (one line naming the file, node or
 * option), 1 on an internal error.
 */
package dev.qdebug.cli;
