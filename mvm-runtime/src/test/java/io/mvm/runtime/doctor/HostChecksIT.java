package io.mvm.runtime.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.Accelerator;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.testing.HostCapabilities;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Doctor's checks on the real host: they create and delete real bridges, taps and nft tables. */
class HostChecksIT {
    @TempDir
    Path dataDir;

    private HostChecks checks() {
        return new HostChecks(dataDir, Optional::empty, AcceleratorProbe.standard(InstantSource.system()), false,
                Optional.empty());
    }

    private static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    @Test
    void networkChecksPassAndLeaveNothingBehind() throws Exception {
        HostCapabilities.requireVmHost();
        assertThat(checks().nftables().status()).isEqualTo(CheckResult.Status.OK);
        assertThat(checks().bridgeAndTap().status()).isEqualTo(CheckResult.Status.OK);
        assertThat(run("nft", "list", "tables")).doesNotContain("mvm_doctor_");
        assertThat(run("ip", "-o", "link")).doesNotContain("mvmdb").doesNotContain("mvmdt");
    }

    @Test
    void reportsQemuCgroupsDiskAndAMissingImage() throws Exception {
        HostCapabilities.requireVmHost();
        HostChecks checks = checks();
        assertThat(checks.qemu().status()).isEqualTo(CheckResult.Status.OK);
        assertThat(checks.qemu().detail()).matches("QEMU \\d+\\.\\d+.*");
        assertThat(checks.cgroups().status()).isEqualTo(expectedCgroupStatus(Path.of("/sys/fs/cgroup")));
        assertThat(checks.freeDisk().detail()).contains("GiB free");
        CheckResult image = checks.guestImage();
        assertThat(image.status()).isEqualTo(CheckResult.Status.FAIL);
        assertThat(image.fix()).contains("mvm bootstrap");
        assertThat(checks.accelerator().status()).isEqualTo(CheckResult.Status.WARN);
    }

    /** Read from the host independently of CgroupLimits: OK exactly when cpu and memory can be limited. */
    private static CheckResult.Status expectedCgroupStatus(Path root) throws java.io.IOException {
        Path controllers = root.resolve("cgroup.controllers");
        boolean usable = java.nio.file.Files.isRegularFile(controllers)
                ? List.of(java.nio.file.Files.readString(controllers).strip().split(" ")).containsAll(List.of("cpu", "memory"))
                : java.nio.file.Files.isRegularFile(root.resolve("cpu/cpu.cfs_quota_us"))
                        && java.nio.file.Files.isRegularFile(root.resolve("memory/memory.limit_in_bytes"));
        return usable ? CheckResult.Status.OK : CheckResult.Status.WARN;
    }

    @Test
    void anOverrideSkipsTheProbe() {
        HostChecks checks = new HostChecks(dataDir, Optional::empty, AcceleratorProbe.standard(InstantSource.system()),
                false, Optional.of(Accelerator.TCG));
        assertThat(checks.accelerator().detail()).isEqualTo("tcg (set by MVM_ACCEL)");
    }
}
