package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.TestImages;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.drive.Ext4Image;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.qemu.QemuBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input fails with INVALID_ARGUMENT before anything exists: no VM directory, no drive file.
 * The backend here points at a QEMU binary that does not exist, so an attempt to launch would
 * show up as a different error.
 */
class MalformedInputTest {
    @TempDir
    Path dir;

    private LocalVms vms() {
        QemuBackend backend = new QemuBackend(
                new QemuBackend.Settings("/nonexistent/qemu", Accelerator.TCG, "test", java.time.Duration.ofSeconds(5),
                        java.time.Duration.ofSeconds(5)),
                new VmDrives(new Ext4Image("/nonexistent/mkfs")), new CgroupLimits.Unavailable("test"),
                socket -> { throw new AssertionError("no guest should be contacted"); }, InstantSource.system());
        return new LocalVms(dir.resolve("data"), backend, InstantSource.system());
    }

    private void rejectedBeforeAnythingStarts(ThrowingCallable call, String message) throws Exception {
        assertThatThrownBy(call).isInstanceOfSatisfying(MvmException.class, e -> {
            assertThat(e.category()).isEqualTo(ErrorCategory.INVALID_ARGUMENT);
            assertThat(e.getMessage()).contains(message);
        });
        try (var entries = Files.list(dir.resolve("data").resolve("vms"))) {
            assertThat(entries.filter(p -> !p.getFileName().toString().startsWith("."))).isEmpty();
        }
    }

    @Test
    void negativeMemory() throws Exception {
        LocalVms vms = vms();
        GuestImage image = TestImages.fake(Files.createDirectory(dir.resolve("img")));
        rejectedBeforeAnythingStarts(() -> vms.run(VmSpec.builder("neg", image).memoryMib(-256).build()), "memory must be positive");
    }

    /**
     * Drives reach the runtime from user input as a spec stored in spec.json (what start and wake
     * relaunch from): a damaged or hand-edited one must fail as bad input, not boot something else.
     * (No user input names a drive kind directly; DriveKind.parse is covered in VmSpecTest.)
     */
    @Test
    void badDriveInTheStoredSpec() throws Exception {
        LocalVms vms = vms();
        GuestImage image = TestImages.fake(Files.createDirectory(dir.resolve("img")));
        VmDefinition tooSmall = VmDefinition.of(VmSpec.builder("smalldisk", image).build());
        tooSmall = new VmDefinition(tooSmall.schemaVersion(), tooSmall.name(), tooSmall.vcpus(), tooSmall.memoryMib(),
                tooSmall.image(), 2L, null, Map.of(), null, Map.of(), null, List.of(), null);
        VmDefinition finalDefinition = tooSmall;
        rejectedBeforeAnythingStarts(() -> vms.run(finalDefinition.toSpec(Map.of())), "data disk size must be between 8 MiB");
        rejectedBeforeAnythingStarts(() -> vms.run(VmDefinition.of(VmSpec.builder("badsecret", image).build())
                .toSpec(Map.of("../escape", "x"))), "invalid secret name '../escape'");
    }

    @Test
    void missingKernel() throws Exception {
        LocalVms vms = vms();
        GuestImage fake = TestImages.fake(Files.createDirectory(dir.resolve("img")));
        GuestImage image = new GuestImage("x", dir.resolve("no-such-vmlinuz"), fake.initramfs(), fake.rootfs(), "v", "");
        rejectedBeforeAnythingStarts(() -> vms.run(VmSpec.builder("nokernel", image).build()), "kernel file");
    }

    @Test
    void kernelCommandLineTooLong() throws Exception {
        LocalVms vms = vms();
        GuestImage fake = TestImages.fake(Files.createDirectory(dir.resolve("img")));
        // The workload no longer counts (it is on the config drive): only the image's and mvm's own arguments do.
        GuestImage image = new GuestImage(fake.name(), fake.kernel(), fake.initramfs(), fake.rootfs(), fake.kernelVersion(),
                fake.bootArgs() + " " + "x".repeat(2000));
        VmSpec spec = VmSpec.builder("longargs", image).env(Map.of("BIG", "x".repeat(1900))).build();
        rejectedBeforeAnythingStarts(() -> vms.run(spec), "kernel command line");
    }

    @Test
    void operationsOnUnknownVmsAreNotFound() {
        LocalVms vms = vms();
        assertThatThrownBy(() -> vms.pause("ghost")).isInstanceOfSatisfying(MvmException.class,
                e -> assertThat(e.category()).isEqualTo(ErrorCategory.NOT_FOUND));
        assertThatThrownBy(() -> vms.destroy("ghost")).isInstanceOfSatisfying(MvmException.class,
                e -> assertThat(e.category()).isEqualTo(ErrorCategory.NOT_FOUND));
    }
}
