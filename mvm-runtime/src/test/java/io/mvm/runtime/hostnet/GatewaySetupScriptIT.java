package io.mvm.runtime.hostnet;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.netpolicy.GatewayConfig;
import io.mvm.core.netpolicy.GatewayRoute;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.Ipv4Address;
import io.mvm.core.netpolicy.Ipv4Subnet;
import io.mvm.core.netpolicy.TenantNetwork;
import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guest half of the gateway role: the shipped busybox script, run by busybox sh in a network
 * namespace standing in for the gateway guest, applies the gateway.json the host renders.
 */
class GatewaySetupScriptIT {
    private final String ns = "mvw" + HexFormat.of().formatHex(new SecureRandom().generateSeed(3));
    private boolean created;

    @BeforeAll
    static void capabilities() {
        HostCapabilities.requireHostNetworking();
    }

    @AfterEach
    void deleteNamespace() {
        if (created) {
            HostCommands.onThisHost().run(List.of("ip", "netns", "del", ns), "");
        }
    }

    @Test
    void scriptTurnsForwardingOnAndInstallsTheRenderedRoutes(@TempDir Path dir) throws Exception {
        TenantId acme = TenantId.of("acme");
        HostNetworkSpec spec = new HostNetworkSpec("mvm", Optional.empty(),
                List.of(new TenantNetwork(acme, 3, Ipv4Subnet.parse("10.1.3.0/24"), false, List.of(
                        new GatewayRoute(Ipv4Subnet.parse("172.16.0.0/16"), Ipv4Address.parse("10.1.3.1")),
                        new GatewayRoute(Ipv4Subnet.parse("192.168.50.0/24"), Ipv4Address.parse("10.1.3.7"))))),
                List.of(InstancePort.tap(InstanceId.of("gw"), acme, Ipv4Address.parse("10.1.3.2"), Role.GATEWAY)),
                List.of());
        Path config = dir.resolve("gateway.json");
        Files.writeString(config, GatewayConfig.render(spec, InstanceId.of("gw")));
        Path script = dir.resolve("gateway-setup.sh");
        try (InputStream in = getClass().getResourceAsStream("/guest/gateway-setup.sh")) {
            assertThat(in).as("gateway-setup.sh on the classpath").isNotNull();
            Files.copy(in, script);
        }

        HostCommands host = HostCommands.onThisHost();
        host.runOrFail("ip", "netns", "add", ns);
        created = true;
        HostCommands guest = HostCommands.inNamespace(ns);
        // A veth pair (this kernel has no dummy driver) gives eth0 a carrier, as the guest's NIC has.
        guest.runOrFail("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0");
        guest.runOrFail("ip", "link", "set", "peer0", "up");
        guest.runOrFail("ip", "addr", "add", "10.1.3.2/24", "dev", "eth0");
        guest.runOrFail("ip", "link", "set", "eth0", "up");
        assertThat(guest.runOrFail("sysctl", "-n", "net.ipv4.ip_forward").strip()).isEqualTo("0");

        for (int run = 0; run < 2; run++) { // twice: the script must be idempotent
            HostCommands.CommandResult r = guest.run(List.of("busybox", "sh", script.toString(), config.toString()), "");
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(r.stderr()).contains("applied 2 route(s)");
        }
        assertThat(guest.runOrFail("sysctl", "-n", "net.ipv4.ip_forward").strip()).isEqualTo("1");
        assertThat(guest.runOrFail("ip", "route", "show"))
                .contains("172.16.0.0/16 via 10.1.3.1 dev eth0", "192.168.50.0/24 via 10.1.3.7 dev eth0");

        Files.writeString(config, Files.readString(config).replace("\"version\": 1", "\"version\": 9"));
        HostCommands.CommandResult refused = guest.run(List.of("busybox", "sh", script.toString(), config.toString()), "");
        assertThat(refused.exitCode()).isNotZero();
        assertThat(refused.stderr()).contains("unsupported gateway.json version");
    }
}
