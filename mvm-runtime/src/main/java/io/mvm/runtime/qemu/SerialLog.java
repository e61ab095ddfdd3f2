package io.mvm.runtime.qemu;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reading a VM's serial console file: waiting for a marker, and the last lines for error reports. */
public final class SerialLog {
    public static final String GUEST_READY_MARKER = "mvm-guest-ready";
    /** Printed by the guest's init, followed by the reason, when it cannot finish booting. */
    public static final String BOOT_FAILED_MARKER = "mvm-boot-failed";

    private final Path file;
    private long scanned;
    private String carry = "";

    public SerialLog(Path file) {
        this.file = file;
    }

    /** True once {@code marker} has appeared; reads only what is new since the last call. */
    public boolean contains(String marker) {
        try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
            long length = in.length();
            if (length < scanned) {
                scanned = 0;
                carry = "";
            }
            if (length == scanned) {
                return false;
            }
            byte[] chunk = new byte[(int) Math.min(length - scanned, 1 << 20)];
            in.seek(scanned);
            in.readFully(chunk);
            scanned += chunk.length;
            String text = carry + new String(chunk, StandardCharsets.ISO_8859_1);
            if (text.contains(marker)) {
                return true;
            }
            carry = text.substring(Math.max(0, text.length() - marker.length()));
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    /** The last line mentioning {@code marker}, or the marker itself when the log cannot be read. */
    public static String lastLineContaining(Path file, String marker) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
            for (int i = all.size() - 1; i >= 0; i--) {
                if (all.get(i).contains(marker)) {
                    return all.get(i).strip();
                }
            }
        } catch (IOException e) {
            // fall through
        }
        return marker;
    }

    /** The last {@code lines} lines, or a note when the log cannot be read. */
    public static String tail(Path file, int lines) {
        try {
            if (!Files.exists(file)) {
                return "(no serial log)";
            }
            List<String> all = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
            List<String> last = all.subList(Math.max(0, all.size() - lines), all.size());
            return last.isEmpty() ? "(serial log is empty)" : String.join("\n", last).strip();
        } catch (IOException e) {
            return "(cannot read serial log: " + e.getMessage() + ")";
        }
    }
}
