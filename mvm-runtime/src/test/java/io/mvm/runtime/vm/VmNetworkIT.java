package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * NIC attachment with two real microVMs: each gets a tap (made here, as the network layer would)
 * on a throwaway bridge and its address through mvm.ip; they reach each other over it.
 */
class VmNetworkIT {
    static RuntimeFixture runtime;
    static final List<String> links = new ArrayList<>();
    static final String suffix = UUID.randomUUID().toString().substring(0, 6);
    static final String bridge = "mvrb" + suffix;
    static String first;
    static String second;

    private static void ip(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + ": " + out);
        }
    }

    private static String tap(String id) throws Exception {
        String name = "mvrt" + suffix + id;
        ip("tuntap", "add", "dev", name, "mode", "tap");
        links.add(0, name);
        ip("link", "set", name, "master", bridge);
        ip("link", "set", name, "up");
        return name;
    }

    @BeforeAll
    static void bootTwoVmsOnOneBridge() throws Exception {
        runtime = new RuntimeFixture();
        ip("link", "add", "name", bridge, "type", "bridge");
        links.add(bridge);
        ip("link", "set", bridge, "up");
        first = RuntimeFixture.uniqueName("net-a");
        second = RuntimeFixture.uniqueName("net-b");
        runtime.vms.run(VmSpec.builder(first, runtime.image)
                .nic(new NicSpec(tap("a"), "52:54:00:6d:00:0a", "10.213.0.10", 24, "10.213.0.1")).build());
        runtime.vms.run(VmSpec.builder(second, runtime.image)
                .nic(new NicSpec(tap("b"), "52:54:00:6d:00:0b", "10.213.0.11", 24, "10.213.0.1")).build());
    }

    @AfterAll
    static void cleanUp() throws Exception {
        try {
            if (runtime != null) {
                runtime.close();
            }
        } finally {
            for (String link : links) {
                try {
                    ip("link", "del", link);
                } catch (IllegalStateException e) {
                    System.err.println(e.getMessage());
                }
            }
        }
    }

    @Test
    void guestsGetTheirAddressesAndReachEachOther() {
        try (GuestChannel guest = runtime.vms.guest(first)) {
            GuestChannel.ExecResult addr = guest.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(60), "ip", "-4", "addr", "show", "eth0"));
            assertThat(addr.stdoutText()).contains("10.213.0.10/24");
            GuestChannel.ExecResult ping = guest.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(90),
                    "ping", "-c", "3", "-W", "10", "10.213.0.11"));
            assertThat(ping.exitCode()).as(ping.stdoutText() + ping.stderrText()).isZero();
        }
        assertThat(runtime.vms.list()).extracting(VmStatus::ip).containsExactlyInAnyOrder("10.213.0.10", "10.213.0.11");
    }
}
