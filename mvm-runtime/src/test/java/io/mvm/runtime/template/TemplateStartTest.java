package io.mvm.runtime.template;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.Accelerator;
import io.mvm.runtime.backend.DriveKind;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.snapshot.SnapshotInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The device half of the clone-or-cold-boot decision: a clone brings exactly the snapshot's drive slots and NIC presence. */
class TemplateStartTest {
    @TempDir
    Path dir;

    private VmSpec.Builder spec() throws Exception {
        for (String f : List.of("vmlinuz", "initramfs.cpio.gz", "rootfs.ext4")) {
            Files.writeString(dir.resolve(f), "x");
        }
        return VmSpec.builder("c1", new GuestImage("t@1", dir.resolve("vmlinuz"), dir.resolve("initramfs.cpio.gz"),
                dir.resolve("rootfs.ext4"), "6.12", "console=ttyS0"));
    }

    private static SnapshotInfo snapshot(boolean nic, String... slots) {
        List<SnapshotInfo.DriveSlot> driveSlots = new ArrayList<>();
        for (String slot : slots) {
            driveSlots.add(new SnapshotInfo.DriveSlot(slot, slot.equals("data") ? 16L << 20 : 4L << 20, !slot.equals("data")));
        }
        return new SnapshotInfo(SnapshotInfo.SCHEMA_VERSION, Instant.EPOCH, "t", "qemu", "7.2.22", Accelerator.TCG, 1, 192,
                "console=ttyS0", "console=ttyS0 mvm.hostname=t", Map.of(), null, null, null, driveSlots, nic, 0);
    }

    @Test
    void aCloneWithoutSecretsConfigOrDataGetsEmptyOnesForTheSnapshotsSlots() throws Exception {
        List<String> differences = new ArrayList<>();
        VmSpec padded = TemplateStart.withSnapshotSlots(spec().drive(new DriveSpec.Secrets(Map.of("token", "t"))).build(),
                snapshot(false, "data", "secrets", "config"), differences);
        assertThat(differences).isEmpty();
        assertThat(padded.drives()).extracting(DriveSpec::kind).containsExactlyInAnyOrder(DriveKind.SECRETS, DriveKind.DATA, DriveKind.CONFIG);
        assertThat(padded.drive(DriveSpec.Secrets.class).orElseThrow().entries()).containsEntry("token", "t");
        assertThat(padded.drive(DriveSpec.Data.class).orElseThrow().sizeMib()).isEqualTo(16);
        assertThat(padded.drive(DriveSpec.Config.class).orElseThrow().files()).isEmpty();
    }

    @Test
    void aDriveOrNicTheSnapshotHasNoSlotForIsADifference() throws Exception {
        List<String> differences = new ArrayList<>();
        TemplateStart.withSnapshotSlots(spec().drive(new DriveSpec.Data(32))
                .nic(new NicSpec("tap-x", "52:54:00:00:00:01", "10.0.0.2", 24, "10.0.0.1")).build(),
                snapshot(false, "secrets", "config"), differences);
        assertThat(differences).containsExactly("this VM has a data drive, the snapshot none", "this VM has a NIC, the snapshot none");
        differences.clear();
        TemplateStart.withSnapshotSlots(spec().build(), snapshot(true, "secrets"), differences);
        assertThat(differences).containsExactly("the snapshot has a NIC, this VM none");
    }
}
