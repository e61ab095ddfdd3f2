package io.mvm.runtime.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.Accelerator;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SnapshotCompatibilityTest {
    static final Map<String, String> IMAGE = Map.of("kernel", "k1", "initramfs", "i1", "rootfs", "r1");
    static final SnapshotInfo INFO = new SnapshotInfo(1, Instant.EPOCH, "tpl", "qemu", "7.2.22", Accelerator.TCG, 1, 256,
            "console=ttyS0", "console=ttyS0 mvm.hostname=tpl", IMAGE,
            new SnapshotInfo.SnapshotFile("vmstate.bin", 60_000, "a", null),
            new SnapshotInfo.SnapshotFile("memory.ram", 256L << 20, "b", null), null,
            List.of(new SnapshotInfo.DriveSlot("data", 64L << 20, false), new SnapshotInfo.DriveSlot("secrets", 4L << 20, true)),
            true, 1000);

    static SnapshotCompatibility.CloneTarget target(String version, int vcpus, long mib, Map<String, String> image,
                                                    Map<String, Long> drives, boolean nic) {
        return new SnapshotCompatibility.CloneTarget("qemu", version, vcpus, mib, "console=ttyS0", image, drives, nic);
    }

    @Test
    void theSameParametersAreCompatible() {
        assertThat(SnapshotCompatibility.differences(INFO,
                target("7.2.22", 1, 256, IMAGE, Map.of("data", 0L, "secrets", 1L << 20), true))).isEmpty();
    }

    @Test
    void everyDifferenceIsNamed() {
        List<String> differences = SnapshotCompatibility.differences(INFO, target("8.0.0", 2, 512,
                Map.of("kernel", "k2", "initramfs", "i1", "rootfs", "r1"), Map.of("config", 0L), false));
        assertThat(differences).containsExactly(
                "backend version: snapshot 7.2.22, clone 8.0.0",
                "vCPUs: snapshot 1, clone 2",
                "memory (MiB): snapshot 256, clone 512",
                "image kernel sha256: snapshot k1, clone k2",
                "the snapshot has a data drive, the clone none (a clone needs every drive slot of its template)",
                "the snapshot has a secrets drive, the clone none (a clone needs every drive slot of its template)",
                "the clone has a config drive, the snapshot none (a guest cannot see a device added after it booted)",
                "the snapshot has a NIC, the clone none");
    }

    @Test
    void aReadOnlyDriveLargerThanItsSlotIsRefusedButDataIsTheTemplatesCopy() {
        assertThat(SnapshotCompatibility.differences(INFO,
                target("7.2.22", 1, 256, IMAGE, Map.of("data", 1L << 40, "secrets", 5L << 20), true)))
                .containsExactly("the clone's secrets drive needs 5242880 bytes, the snapshot's slot holds 4194304");
    }
}
