package io.mvm.runtime.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.image.GuestImage;
import java.nio.file.Path;
import java.util.Map;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VmSpecTest {
    @TempDir
    Path dir;

    private static void rejected(ThrowingCallable call, String message) {
        assertThatThrownBy(call).isInstanceOfSatisfying(MvmException.class, e -> {
            assertThat(e.category()).isEqualTo(ErrorCategory.INVALID_ARGUMENT);
            assertThat(e.getMessage()).contains(message);
        });
    }

    @Test
    void acceptsAFullSpec() {
        VmSpec spec = VmSpec.builder("web-1", TestImages.fake(dir)).vcpus(2).memoryMib(512)
                .drive(new DriveSpec.Data(64)).drive(new DriveSpec.Secrets(Map.of("token", "s3cr3t")))
                .drive(new DriveSpec.Config(3, Map.of("app.toml", new byte[] {1})))
                .cmd("echo hi").env(Map.of("A", "1"))
                .nic(new NicSpec("mvmt0", "52:54:00:12:34:56", "10.0.0.2", 24, "10.0.0.1")).build();
        assertThat(spec.drive(DriveSpec.Data.class)).contains(new DriveSpec.Data(64));
        assertThat(spec.toString()).doesNotContain("s3cr3t");
    }

    @Test
    void rejectsBadResources() {
        GuestImage image = TestImages.fake(dir);
        rejected(() -> VmSpec.builder("a", image).memoryMib(-5).build(), "memory must be positive");
        rejected(() -> VmSpec.builder("a", image).memoryMib(0).build(), "memory must be positive");
        rejected(() -> VmSpec.builder("a", image).memoryMib(16).build(), "memory must be between");
        rejected(() -> VmSpec.builder("a", image).vcpus(0).build(), "vcpus must be between 1 and 32");
        rejected(() -> VmSpec.builder("a", image).vcpus(33).build(), "vcpus must be between 1 and 32");
        rejected(() -> VmSpec.builder("Bad_Name", image).build(), "invalid instance id");
    }

    @Test
    void rejectsAMissingKernelBeforeAnythingStarts() {
        GuestImage image = TestImages.fake(dir);
        GuestImage noKernel = new GuestImage("x", dir.resolve("missing-vmlinuz"), image.initramfs(), image.rootfs(), "v", "");
        rejected(() -> VmSpec.builder("a", noKernel).build(), "kernel file");
    }

    @Test
    void rejectsUnknownAndDuplicateDrives() {
        rejected(() -> DriveKind.parse("swap"), "unknown drive kind 'swap'");
        GuestImage image = TestImages.fake(dir);
        rejected(() -> VmSpec.builder("a", image).drive(new DriveSpec.Data(16)).drive(new DriveSpec.Data(32)).build(),
                "given more than once");
        rejected(() -> new DriveSpec.Data(1), "data disk size");
        rejected(() -> new DriveSpec.Secrets(Map.of("../etc/passwd", "x")), "invalid secret name");
        rejected(() -> new DriveSpec.Config(0, Map.of()), "config version");
    }

    @Test
    void rejectsBadEnvAndNic() {
        GuestImage image = TestImages.fake(dir);
        rejected(() -> VmSpec.builder("a", image).env(Map.of("1X", "v")).build(), "invalid environment variable name");
        rejected(() -> VmSpec.builder("a", image).env(Map.of("X", "a\nb")).build(), "newline");
        rejected(() -> new NicSpec("tap-name-way-too-long", "52:54:00:12:34:56", "10.0.0.2", 24, null), "invalid tap name");
        rejected(() -> new NicSpec("t0", "53:54:00:12:34:56", "10.0.0.2", 24, null), "multicast");
        rejected(() -> new NicSpec("t0", "52:54:00:12:34:56", "10.0.0.300", 24, null), "invalid IPv4");
    }
}
