package io.mvm.runtime.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading and checking a snapshot directory, with small stand-in files (the real ones: CloneIT). */
class GoldenSnapshotTest {
    @TempDir
    Path dir;

    GoldenSnapshot saved() throws Exception {
        Files.write(dir.resolve(GoldenSnapshot.VMSTATE), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        Files.write(dir.resolve(GoldenSnapshot.MEMORY), new byte[64 * 1024]);
        SnapshotInfo info = new SnapshotInfo(SnapshotInfo.SCHEMA_VERSION, Instant.parse("2026-12-03T10:00:00Z"), "tpl",
                "qemu", "7.2.22", Accelerator.TCG, 1, 256, "console=ttyS0", "console=ttyS0 mvm.hostname=tpl",
                Map.of("kernel", "k", "initramfs", "i", "rootfs", "r"),
                FileDigests.describe(dir.resolve(GoldenSnapshot.VMSTATE)), FileDigests.describe(dir.resolve(GoldenSnapshot.MEMORY)),
                null, List.of(new SnapshotInfo.DriveSlot("secrets", 4 << 20, true)), false, 10);
        return GoldenSnapshot.write(dir, info);
    }

    @Test
    void whatIsWrittenIsReadBackAndVerifies() throws Exception {
        GoldenSnapshot golden = saved();
        assertThat(GoldenSnapshot.open(dir)).isEqualTo(golden);
        golden.verify();
        assertThat(Files.readString(dir.resolve(SnapshotInfo.FILE_NAME))).contains("\"createdAt\" : \"2026-12-03T10:00:00Z\"");
    }

    @Test
    void aFlippedByteInTheVmstateIsFoundEvenWithItsIdentityUnchanged() throws Exception {
        GoldenSnapshot golden = saved();
        try (RandomAccessFile file = new RandomAccessFile(dir.resolve(GoldenSnapshot.VMSTATE).toFile(), "rw")) {
            file.seek(3);
            file.write(0x77);
        }
        assertThatThrownBy(golden::verify).isInstanceOfSatisfying(MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION))
                .hasMessageContaining("is damaged, not restoring it").hasMessageContaining("vmstate.bin has sha256");
    }

    @Test
    void truncationAndMissingFilesAreNamed() throws Exception {
        GoldenSnapshot golden = saved();
        try (RandomAccessFile file = new RandomAccessFile(dir.resolve(GoldenSnapshot.MEMORY).toFile(), "rw")) {
            file.setLength(1000);
        }
        Files.delete(dir.resolve(GoldenSnapshot.VMSTATE));
        assertThatThrownBy(golden::verify)
                .hasMessageContaining("vmstate.bin is missing")
                .hasMessageContaining("memory.ram has 1000 bytes, 65536 recorded (truncated or replaced)");
    }

    @Test
    void anInPlaceWriteToTheRamFileChangesItsIdentityAndIsHashed() throws Exception {
        GoldenSnapshot golden = saved();
        Thread.sleep(20); // a distinct ctime even on coarse clocks
        try (RandomAccessFile file = new RandomAccessFile(dir.resolve(GoldenSnapshot.MEMORY).toFile(), "rw")) {
            file.seek(100);
            file.write(1);
        }
        assertThatThrownBy(golden::verify).hasMessageContaining("memory.ram has sha256");
    }

    @Test
    void directoriesThatAreNotSnapshotsAreClearErrors() throws Exception {
        assertThatThrownBy(() -> GoldenSnapshot.open(dir.resolve("nope")))
                .isInstanceOfSatisfying(MvmException.class, e -> assertThat(e.category()).isEqualTo(ErrorCategory.NOT_FOUND));
        assertThatThrownBy(() -> GoldenSnapshot.open(dir)).hasMessageContaining("is not a golden snapshot (no info.json");
        Files.writeString(dir.resolve(SnapshotInfo.FILE_NAME), "{ not json");
        assertThatThrownBy(() -> GoldenSnapshot.open(dir)).isInstanceOf(MvmException.class).hasMessageContaining("cannot read");
        Files.writeString(dir.resolve(SnapshotInfo.FILE_NAME), "{\"schemaVersion\": 9}");
        assertThatThrownBy(() -> GoldenSnapshot.open(dir)).hasMessageContaining("schema version 9");
        assertThatThrownBy(() -> GoldenSnapshotDeletion.delete(dir, true)).hasMessageContaining("schema version 9");
        assertThat(dir).exists();
    }
}
