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
}
