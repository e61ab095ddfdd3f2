package io.mvm.core.shell;

/**
 * POSIX shell quoting, the one place mvm writes it: every string becomes one single-quoted word
 * that {@code sh} reads back byte for byte (a single quote inside is closed, escaped and reopened).
 */
public final class ShellWords {
    private ShellWords() {}

    public static String quote(String text) {
        return "'" + text.replace("'", "'\\''") + "'";
    }
}
