package io.mvm.runtime.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SerialLogTest {
    @TempDir
    Path dir;

    @Test
    void findsAMarkerWrittenInPiecesAndReadsOnlyNewBytes() throws Exception {
        Path file = dir.resolve("serial.log");
        Files.writeString(file, "[    0.5] booting\nmvm-gue");
        SerialLog log = new SerialLog(file);
        assertThat(log.contains(SerialLog.GUEST_READY_MARKER)).isFalse();
        Files.writeString(file, "st-ready\n", StandardOpenOption.APPEND);
        assertThat(log.contains(SerialLog.GUEST_READY_MARKER)).isTrue();
    }

    @Test
    void tailsAndFindsTheFailureLine() throws Exception {
        Path file = dir.resolve("serial.log");
        Files.writeString(file, "a\nmvm-boot-failed: no root drive labelled mvm-root\nb\nc\n");
        assertThat(SerialLog.tail(file, 2)).isEqualTo("b\nc");
        assertThat(SerialLog.lastLineContaining(file, SerialLog.BOOT_FAILED_MARKER))
                .isEqualTo("mvm-boot-failed: no root drive labelled mvm-root");
        assertThat(SerialLog.tail(dir.resolve("none"), 3)).isEqualTo("(no serial log)");
    }

    @Test
    void tailSeeksFromTheEndAndNeverReadsTheWholeFile() throws Exception {
        Path file = dir.resolve("serial.log");
        // 3 GiB of (sparse) console before the last lines: reading it all cannot even fit an array.
        try (var raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(3L << 30);
            raf.seek(raf.length());
            raf.write("\nsecond to last\nlast line\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        assertThat(SerialLog.tail(file, 2)).isEqualTo("second to last\nlast line");
        assertThat(SerialLog.lastLineContaining(file, "last")).isEqualTo("last line");
    }

    @Test
    void rotationKeepsTheLastCapBytesAsideAndAnAppendingWriterCarriesOnAtTheNewEnd() throws Exception {
        Path file = dir.resolve("serial.log");
        // Opened as QEMU opens it (append=on): O_APPEND.
        try (var qemu = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            qemu.write("a".repeat(900).getBytes());
            assertThat(SerialLog.rotate(file, 1000)).as("under the cap: left alone").isFalse();
            qemu.write("b".repeat(2100).getBytes());
            qemu.flush();

            assertThat(SerialLog.rotate(file, 1000)).isTrue();

            Path rotated = dir.resolve("serial.log.1");
            assertThat(Files.readString(rotated)).isEqualTo("b".repeat(1000));
            assertThat(Files.size(file)).isZero();
            qemu.write("after\n".getBytes());
            qemu.flush();
            assertThat(Files.readString(file)).as("no hole up to the writer's old offset").isEqualTo("after\n");

            qemu.write("c".repeat(1500).getBytes());
            qemu.flush();
            assertThat(SerialLog.rotate(file, 1000)).isTrue();
            assertThat(Files.size(rotated)).as("only one rotated file, replaced").isEqualTo(1000);
            assertThat(Files.list(dir).map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("serial.log", "serial.log.1");
        }
        assertThat(SerialLog.rotate(dir.resolve("missing.log"), 1000)).isFalse();
    }
}
