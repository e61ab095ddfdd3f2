package io.mvm.runtime.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.runtime.guest.GuestChannel.ExecRequest;
import io.mvm.runtime.guest.GuestChannel.ExecResult;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.testing.HostCapabilities;
import io.mvm.runtime.testing.TestMicroVm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A real microvm with no drives besides the rootfs, a NIC configured from mvm.ip/mvm.gw, and a
 * long-running workload that only a drain stops.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GuestWorkloadDrainIT {
    private static final Duration CALL = Duration.ofSeconds(60);

    private Path work;
    private TestMicroVm vm;
    private VirtioSerialGuestChannel channel;

    @BeforeAll
    void boot() throws Exception {
        HostCapabilities.requireVmHost();
        work = TestMicroVm.newWorkDir("drain");
        try {
            GuestImage image = ImageBuilder.ensureDefaultImage(HostCapabilities.testDataDir(), ProgressListener.NONE);
            String workload = "trap 'echo drained > /tmp/drained; exit 0' TERM; echo started > /tmp/started; "
                    + "while :; do sleep 1; done";
            // The workload reaches the guest on the config drive (VmDrives.WORKLOAD_CMD), never the kernel command line.
            Path config = java.nio.file.Files.createDirectories(work.resolve("config"));
            java.nio.file.Files.writeString(config.resolve(".mvm-workload.cmd"), workload);
            Path configImage = TestMicroVm.ext4(work.resolve("config.ext4"), "mvm-config", config, 4);
            vm = TestMicroVm.boot(image, work, "mvm.ip=10.213.7.5/24 mvm.gw=10.213.7.1",
                    List.of(new TestMicroVm.Drive(configImage, false)),
                    List.of("-netdev", "user,id=n0,net=10.213.7.0/24,host=10.213.7.1,restrict=on",
                            "-device", "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56"));
            vm.awaitReady(Duration.ofSeconds(120));
            channel = VirtioSerialGuestChannel.connect(vm.agentSocket());
        } catch (Throwable t) {
            cleanUp();
            throw t;
        }
    }

    @AfterAll
    void cleanUp() {
        if (channel != null) {
            channel.close();
        }
        if (vm != null) {
            vm.close();
        }
        TestMicroVm.deleteTree(work);
    }

    @Test
    @Order(1)
    void defaultHostnameAndNetworkFromTheKernelCommandLine() {
        assertThat(channel.health(CALL).hostname()).isEqualTo("mvm");
        assertThat(run("ip -4 addr show dev eth0")).contains("inet 10.213.7.5/24");
        assertThat(run("ip route")).contains("default via 10.213.7.1 dev eth0");
        assertThat(run("ping -c 1 -W 10 10.213.7.1 >/dev/null && echo reachable")).isEqualTo("reachable\n");
    }

    @Test
    @Order(2)
    void absentDrivesAreNotMountedAndReloadingAbsentSecretsIsHarmless() {
        String mounts = run("cat /proc/mounts");
        // The config drive is attached: it carries the workload (the kernel command line no longer does).
        assertThat(mounts).doesNotContain(" /data ").doesNotContain(" /run/secrets ").contains(" /etc/mvm-config ");
        channel.reloadSecrets(CALL);
        assertThat(run("ls -A /run/secrets | wc -l").strip()).isEqualTo("0");
    }

    @Test
    @Order(3)
    void drainStopsTheRunningWorkloadCooperatively() throws InterruptedException {
        long end = System.nanoTime() + CALL.toNanos();
        while (!"running".equals(channel.workload(CALL).state()) && System.nanoTime() < end) {
            Thread.sleep(200);
        }
        assertThat(channel.workload(CALL).state()).isEqualTo("running");
        assertThat(channel.exec(ExecRequest.of(CALL, "test", "-e", "/tmp/started")).exitCode()).isZero();

        GuestChannel.DrainResult drained = channel.drain(Duration.ofSeconds(60));

        assertThat(drained.completed()).isTrue();
        GuestChannel.WorkloadStatus status = channel.workload(CALL);
        assertThat(status.state()).isEqualTo("exited");
        assertThat(status.exitCode()).isZero();
        assertThat(run("cat /tmp/drained")).isEqualTo("drained\n");
        assertThat(run("ps -o args | grep -c '^sleep 1$' || true").strip()).isEqualTo("0");
    }

    @Test
    @Order(4)
    void drainWithoutAWorkloadCompletesAtOnce() {
        assertThat(channel.drain(Duration.ZERO).completed()).isTrue();
    }

    private String run(String script) {
        ExecResult result = channel.exec(ExecRequest.of(CALL, "sh", "-c", script));
        assertThat(result.exitCode()).as("exit code of %s (stderr %s)", script, result.stderrText()).isZero();
        return result.stdoutText();
    }
}
