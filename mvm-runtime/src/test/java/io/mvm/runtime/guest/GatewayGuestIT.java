package io.mvm.runtime.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.runtime.guest.GuestChannel.ExecRequest;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.testing.HostCapabilities;
import io.mvm.runtime.testing.TestMicroVm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The gateway role's guest side in a real microvm: a config drive carrying gateway.json makes the
 * guest turn IPv4 forwarding on and install the listed routes at boot; without it, forwarding
 * stays off.
 */
class GatewayGuestIT {
    private static final Duration CALL = Duration.ofSeconds(60);

    @Test
    void configDriveWithGatewayJsonTurnsForwardingOnAndInstallsRoutes() throws Exception {
        HostCapabilities.requireVmHost();
        Path work = TestMicroVm.newWorkDir("gateway");
        TestMicroVm vm = null;
        try {
            GuestImage image = ImageBuilder.ensureDefaultImage(HostCapabilities.testDataDir(), ProgressListener.NONE);
            Path config = Files.createDirectories(work.resolve("config"));
            // The layout GatewayConfig renders (one key per line, one route per line).
            Files.writeString(config.resolve("gateway.json"), """
                    {
                      "version": 1,
                      "tenant": "acme",
                      "instance": "gw-1",
                      "address": "10.213.8.5/24",
                      "subnet": "10.213.8.0/24",
                      "default_gateway": "10.213.8.1",
                      "ip_forward": true,
                      "routes": [
                        {"destination": "10.99.0.0/16", "via": "10.213.8.1"}
                      ]
                    }
                    """);
            Path drive = TestMicroVm.ext4(work.resolve("config.ext4"), "mvm-config", config, 4);
            vm = TestMicroVm.boot(image, work, "mvm.ip=10.213.8.5/24 mvm.gw=10.213.8.1",
                    List.of(new TestMicroVm.Drive(drive, true)),
                    List.of("-netdev", "user,id=n0,net=10.213.8.0/24,host=10.213.8.1,restrict=on",
                            "-device", "virtio-net-device,netdev=n0,mac=52:54:00:12:34:57"));
            vm.awaitReady(Duration.ofSeconds(120));
            try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(vm.agentSocket())) {
                assertThat(sh(channel, "cat /proc/sys/net/ipv4/ip_forward")).isEqualTo("1\n");
                assertThat(sh(channel, "ip route")).contains("10.99.0.0/16 via 10.213.8.1 dev eth0");
            }
            assertThat(vm.serial()).contains("gateway-setup: ip_forward on");
        } finally {
            if (vm != null) {
                vm.close();
            }
            TestMicroVm.deleteTree(work);
        }
    }

    @Test
    void withoutGatewayJsonForwardingStaysOff() throws Exception {
        HostCapabilities.requireVmHost();
        Path work = TestMicroVm.newWorkDir("nogateway");
        TestMicroVm vm = null;
        try {
            GuestImage image = ImageBuilder.ensureDefaultImage(HostCapabilities.testDataDir(), ProgressListener.NONE);
            vm = TestMicroVm.boot(image, work, "", List.of());
            vm.awaitReady(Duration.ofSeconds(120));
            try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(vm.agentSocket())) {
                assertThat(sh(channel, "cat /proc/sys/net/ipv4/ip_forward")).isEqualTo("0\n");
            }
        } finally {
            if (vm != null) {
                vm.close();
            }
            TestMicroVm.deleteTree(work);
        }
    }

    private static String sh(GuestChannel channel, String script) {
        var result = channel.exec(ExecRequest.of(CALL, "sh", "-c", script));
        assertThat(result.exitCode()).as("exit code of %s, stderr %s", script, result.stderrText()).isZero();
        return result.stdoutText();
    }
}
