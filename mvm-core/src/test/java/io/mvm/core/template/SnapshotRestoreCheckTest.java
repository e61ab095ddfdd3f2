package io.mvm.core.template;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SnapshotRestoreCheckTest {
    private static final Map<String, String> IMAGE = Map.of("kernel", "a".repeat(64), "initramfs", "b".repeat(64), "rootfs", "c".repeat(64));

    private static SnapshotInfo snapshot() {
        return new SnapshotInfo(Instant.parse("2026-12-03T12:00:00Z"), 63_000, 192L << 20, "console=ttyS0", 1, 192, "snapshot", "qemu",
                "7.2.22", "tcg", IMAGE, List.of(new SnapshotInfo.SnapshotFile("vmstate.bin", 63_000, "d".repeat(64))), Optional.empty());
    }

    private static SnapshotRestoreCheck.Target same() {
        return new SnapshotRestoreCheck.Target("qemu", "7.2.22", "tcg", 1, 192, "console=ttyS0", IMAGE);
    }

    @Test
    void theSameParametersMayRestore() {
        assertThat(SnapshotRestoreCheck.differences(snapshot(), same())).isEmpty();
    }

    @Test
    void everyDifferenceIsNamed() {
        var image = new java.util.HashMap<>(IMAGE);
        image.put("rootfs", "e".repeat(64));
        var target = new SnapshotRestoreCheck.Target("qemu", "8.0.0", "kvm", 2, 256, "console=ttyS0 quiet", image);
        assertThat(SnapshotRestoreCheck.differences(snapshot(), target)).containsExactly(
                "QEMU version: snapshot 7.2.22, this VM 8.0.0",
                "accelerator: snapshot tcg, this VM kvm",
                "vCPUs: snapshot 1, this VM 2",
                "memory (MiB): snapshot 192, this VM 256",
                "boot args: snapshot console=ttyS0, this VM console=ttyS0 quiet",
                "image rootfs sha256: snapshot cccccccccccccccc, this VM eeeeeeeeeeeeeeee");
    }

    @Test
    void aSeedShapedRecordWithoutChecksumsIsNeverRestored() {
        var seed = new SnapshotInfo(Instant.parse("2026-12-03T12:00:00Z"), 1, 2, "console=ttyS0", 1, 192);
        assertThat(seed.checkable()).isFalse();
        assertThat(SnapshotRestoreCheck.differences(seed, same())).containsExactly(
                "the snapshot record has no backend or file checksums (written before mvm recorded them)");
    }
}
