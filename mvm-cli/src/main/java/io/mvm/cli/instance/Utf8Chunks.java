package io.mvm.cli.instance;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns a byte stream that arrives in arbitrary chunks into text for a writer, keeping a UTF-8
 * sequence that a chunk boundary split until its last byte arrives (decoding each chunk on its
 * own would print two replacement characters in its place).
 */
final class Utf8Chunks {
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    /** The text that is complete after {@code bytes}; an incomplete trailing sequence waits. */
    String append(byte[] bytes) {
        pending.writeBytes(bytes);
        byte[] all = pending.toByteArray();
        int complete = completeLength(all);
        pending.reset();
        pending.write(all, complete, all.length - complete);
        return new String(all, 0, complete, StandardCharsets.UTF_8);
    }

    /** Whatever is left at the end (an invalid tail becomes replacement characters). */
    String flush() {
        String rest = pending.toString(StandardCharsets.UTF_8);
        pending.reset();
        return rest;
    }

    /** The length of the prefix that ends on a sequence boundary (looks back at most 3 bytes). */
    static int completeLength(byte[] bytes) {
        int n = bytes.length;
        for (int back = 1; back <= Math.min(3, n); back++) {
            int b = bytes[n - back] & 0xff;
            if ((b & 0xc0) == 0x80) {
                continue; // a continuation byte: its lead is further back
            }
            int needed = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
            return needed > back ? n - back : n;
        }
        return n;
    }
}
