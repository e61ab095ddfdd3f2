package io.mvm.model;

/**
 * Text that may carry what a guest wrote (an exec's stderr in an error, a console line, a guest
 * agent's refusal) cut to a fixed size before it is stored, sent or indexed. A hostile guest could
 * otherwise make every event, report and database row as large as it likes.
 */
public final class BoundedText {
    /** The most characters an event message or a {@code last_error} keeps. */
    public static final int MESSAGE_LIMIT = 1000;

    private BoundedText() {}

    /** {@code text} cut to {@link #MESSAGE_LIMIT} characters. */
    public static String message(String text) {
        return cap(text, MESSAGE_LIMIT);
    }

    /**
     * {@code text} unchanged when it fits, else its start and a note of how much was cut, at most
     * {@code limit} characters in all; never splits a surrogate pair.
     */
    public static String cap(String text, int limit) {
        if (text == null || text.length() <= limit) {
            return text;
        }
        String note = "… (" + text.length() + " chars, cut)";
        if (limit <= note.length()) {
            throw new IllegalArgumentException("limit " + limit + " leaves no room for the text");
        }
        int keep = limit - note.length();
        if (Character.isHighSurrogate(text.charAt(keep - 1))) {
            keep--;
        }
        return text.substring(0, keep) + note;
    }
}
