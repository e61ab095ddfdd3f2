package io.mvm.runtime.qemu;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A VM's serial console file: waiting for a marker, the last lines for error reports, and keeping
 * it bounded ({@link #rotate}). The guest writes what it likes into it, so nothing here reads more
 * than a fixed amount at a time.
 */
public final class SerialLog {
    /** The most console a live VM keeps: {@code serial.log} up to about this, plus {@code serial.log.1}. */
    public static final long DEFAULT_CAP = 1024 * 1024;
    /** How much of the end of the log {@link #tail} and {@link #lastLineContaining} read. */
    static final int TAIL_BYTES = 64 * 1024;
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

    /** The last line mentioning {@code marker} (within the last {@value #TAIL_BYTES} bytes), or the marker itself. */
    public static String lastLineContaining(Path file, String marker) {
        try {
            List<String> all = tailBytes(file, TAIL_BYTES).lines().toList();
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

    /**
     * The last {@code lines} lines, or a note when the log cannot be read. Reads only the file's
     * last {@value #TAIL_BYTES} bytes, seeking from its end: the guest decides what is in the
     * file, and an error report must cost the same however much it wrote.
     */
    public static String tail(Path file, int lines) {
        try {
            if (!Files.exists(file)) {
                return "(no serial log)";
            }
            List<String> all = tailBytes(file, TAIL_BYTES).lines().toList();
            List<String> last = all.subList(Math.max(0, all.size() - lines), all.size());
            String text = String.join("\n", last).strip();
            return text.isEmpty() ? "(serial log is empty)" : text;
        } catch (IOException e) {
            return "(cannot read serial log: " + e.getMessage() + ")";
        }
    }

    /** At most the last {@code max} bytes of {@code file}; a first line cut by the limit is left out. */
    static String tailBytes(Path file, int max) throws IOException {
        try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
            long length = in.length();
            int count = (int) Math.min(length, max);
            byte[] bytes = new byte[count];
            in.seek(length - count);
            in.readFully(bytes);
            String text = new String(bytes, StandardCharsets.ISO_8859_1);
            if (count < length) {
                int newline = text.indexOf('\n');
                text = newline < 0 ? text : text.substring(newline + 1);
            }
            return text;
        }
    }

    /**
     * Keeps the console log of a live VM within about {@code cap} bytes plus one rotated file of at
     * most {@code cap}: when {@code file} is over the cap, its last {@code cap} bytes replace
     * {@code file.1} (atomically) and {@code file} is truncated to zero. Returns whether it rotated.
     *
     * <p>Why copy-and-truncate: QEMU writes the file itself and keeps it open, so it cannot be
     * renamed away (QEMU would write on into the renamed file). QEMU opens it with O_APPEND
     * ({@code -chardev file,append=on}, see {@link QemuLaunch}), so after the truncation its next
     * write lands at the new end, not at its old offset (which would leave a sparse file as large as
     * before). Bytes written between the copy and the truncation are lost, as with logrotate's
     * copytruncate; that is acceptable for a console log, unbounded disk is not. It keeps no state,
     * so whichever runtime observes the VM (a restarted agent that re-adopted it) carries on.
     */
    public static boolean rotate(Path file, long cap) throws IOException {
        if (cap < 1) {
            throw new IllegalArgumentException("cap must be positive");
        }
        long length;
        try {
            length = Files.size(file);
        } catch (java.nio.file.NoSuchFileException e) {
            return false;
        }
        if (length <= cap) {
            return false;
        }
        Path rotated = file.resolveSibling(file.getFileName() + ".1");
        Path partial = file.resolveSibling(file.getFileName() + ".1.partial");
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                     StandardOpenOption.TRUNCATE_EXISTING)) {
            long from = Math.max(0, in.size() - cap);
            long copied = 0;
            while (copied < cap) {
                long n = in.transferTo(from + copied, cap - copied, out);
                if (n <= 0) {
                    break;
                }
                copied += n;
            }
        }
        Files.move(partial, rotated, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel truncate = FileChannel.open(file, StandardOpenOption.WRITE)) {
            truncate.truncate(0);
        }
        return true;
    }
}
