package io.mvm.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.Main;
import io.mvm.core.netpolicy.MacAddress;
import io.mvm.model.InstanceId;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Tenant networks across hosts with real microVMs: two hosts on one machine ({@link MultiHost}:
 * network namespaces on a 1550-byte underlay), an agent in each ({@code agent serve --netns
 * --underlay-address}), one coordinator. Tenant ta has an instance on each host, tenant tb one on
 * host 2. Five VM boots in all, each reused for as many assertions as it can carry.
 */
class CrossHostNetworkE2EIT {
    private static final Duration RUNNING = Duration.ofMinutes(4);
    private MultiHost hosts;
    private Fleet fleet;
    @RegisterExtension
    final PrintLogsOnFailure logsOnFailure = new PrintLogsOnFailure(() -> fleet == null ? null : fleet.agentLogs());

    @AfterEach
    void stop() {
        try {
            if (fleet != null) {
                fleet.close();
            }
        } finally {
            if (hosts != null) {
                hosts.close();
            }
        }
    }

    private Fleet.Run exec(String instance, String script) {
        return fleet.mvm("instance", "exec", instance, "--", "sh", "-c", script);
    }

    private boolean ping(String from, String address) {
        return exec(from, "ping -c 1 -W 2 " + address).exit() == 0;
    }

    private boolean pingEventually(String from, String address) {
        for (int i = 0; i < 8; i++) {
            if (ping(from, address)) {
                return true;
            }
        }
        return false;
    }

    /** UDP datagrams that reached a guest's kernel for a port nobody listens on ({@code Udp: NoPorts}). */
    private long udpNoPorts(String instance) {
        var run = exec(instance, "grep '^Udp: [0-9]' /proc/net/snmp | cut -d' ' -f3");
        assertThat(run.exit()).as(run.err()).isZero();
        return Long.parseLong(run.out().strip());
    }

    private JsonNode instance(String tenant, String node) {
        return fleet.instances(tenant).stream().filter(i -> i.path("node").asText().equals(node)).findFirst()
                .orElseThrow();
    }

    private boolean allRunning(String tenant, int count) {
        var all = fleet.instances(tenant);
        return all.size() == count && all.stream().allMatch(i -> i.path("state").asText().equals("running"));
    }

    private record Cli(int exit, String out) {}

    /** {@code mvm net verify} for one host, as an operator would run it there. */
    private Cli verify(MultiHost.Host host, Fleet.Agent agent) {
        var cli = Main.commandLine();
        var out = new StringWriter();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(out, true));
        int exit = cli.execute("net", "verify", "--data-dir", agent.dataDir.toString(), "--netns", host.netns());
        return new Cli(exit, out.toString());
    }

    private static String mac(String instance) {
        return MacAddress.forInstance(InstanceId.of(instance)).value();
    }

    @Test
    void aTenantSpansHostsOthersStayOutMovesKeepAddressesAndDeletionCleansEveryHost() throws Exception {
        hosts = MultiHost.create(2);
        var host1 = hosts.hosts.get(0);
        var host2 = hosts.hosts.get(1);
        fleet = Fleet.start("mvm-e2e-vxlan-", Duration.ofSeconds(6), Duration.ofSeconds(2), hosts.coordinatorAddress());
        String table = "mvm_x" + hosts.id;
        // Agent 1 is killed -9 below, so it is the agent process itself; agent 2 goes through the
        // supported `agent serve --netns` (a parent that runs the agent inside the namespace).
        var agent1 = fleet.networkedAgentIn(host1, "vx-h1", table, 4, 1024, false);
        // Twice the capacity: after one ta instance on each host, tb's lands on the less loaded host 2.
        var agent2 = fleet.networkedAgentIn(host2, "vx-h2", table, 8, 2048, true);
        await().atMost(Duration.ofMinutes(2)).until(() -> fleet.get("v1/nodes").path("items").size() == 2);

        fleet.post("v1/tenants", Map.of("id", "ta"));
        fleet.post("v1/tenants", Map.of("id", "tb"));
        fleet.createPool("ta", "web", "worker", 128, 2, "on_node_lost", "recreate");
        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.instances("ta").stream()
                .allMatch(i -> !i.path("node").asText().isEmpty()));
        fleet.createPool("tb", "web", "worker", 128, 1);
        await().atMost(RUNNING).pollInterval(Duration.ofSeconds(1)).until(() -> allRunning("ta", 2)
                && allRunning("tb", 1));
        String ax = instance("ta", "vx-h1").path("id").asText();
        String ay = instance("ta", "vx-h2").path("id").asText();
        JsonNode bNode = fleet.instances("tb").getFirst();
        assertThat(bNode.path("node").asText()).isEqualTo("vx-h2");
        String b = bNode.path("id").asText();
        String ipAx = instance("ta", "vx-h1").path("ip").asText();
        String ipAy = instance("ta", "vx-h2").path("ip").asText();
        String ipB = bNode.path("ip").asText();

        // Each host has a VXLAN device for ta (none for tb, which runs on one host) with a static
        // entry for the other host's instance, and nothing to flood to.
        String fdb1 = hosts.exec(host1, "bridge", "fdb", "show");
        assertThat(fdb1).contains(mac(ay) + " dev mvx").contains("dst " + host2.underlay());
        assertThat(fdb1).doesNotContain("00:00:00:00:00:00");
        assertThat(hosts.exec(host2, "bridge", "fdb", "show")).contains(mac(ax) + " dev mvx")
                .contains("dst " + host1.underlay());
        assertThat(hosts.exec(host2, "ip", "-d", "link", "show", "type", "vxlan")).containsOnlyOnce("vxlan id");

        // Within ta across hosts: ICMP both ways, large packets, TCP (with an 8000-byte payload), UDP.
        assertThat(pingEventually(ax, ipAy)).as("ax -> ay").isTrue();
        assertThat(pingEventually(ay, ipAx)).as("ay -> ax").isTrue();
        assertThat(exec(ax, "ping -c 2 -W 3 -s 1400 " + ipAy).exit()).as("1400-byte ping").isZero();
        assertThat(exec(ax, "ping -c 2 -W 3 -s 8000 " + ipAy).exit()).as("8000-byte ping").isZero();
        exec(ay, "nc -l -p 7002 > /tmp/got 2>/dev/null </dev/null &");
        // nc waits for the other side's close until -w passes: the bytes that arrived tell.
        exec(ax, "head -c 8000 /dev/urandom > /tmp/sent && nc -w 3 " + ipAy + " 7002 < /tmp/sent");
        await().atMost(Duration.ofSeconds(10)).until(() -> exec(ay, "wc -c < /tmp/got").out().strip().equals("8000"));
        long ayUdp = udpNoPorts(ay);
        exec(ax, "timeout 4 nslookup probe.invalid " + ipAy);
        assertThat(udpNoPorts(ay)).as("udp ax -> ay arrived").isGreaterThan(ayUdp);

        // Tenant tb on host 2 reaches neither ta instance, and neither reaches it, nor by taking a
        // ta address.
        long axUdp = udpNoPorts(ax);
        assertThat(ping(b, ipAx)).as("b -> ax (other host)").isFalse();
        assertThat(ping(b, ipAy)).as("b -> ay (same host)").isFalse();
        assertThat(ping(ax, ipB)).as("ax -> b").isFalse();
        assertThat(ping(ay, ipB)).as("ay -> b").isFalse();
        exec(ax, "nc -l -p 7001 >/dev/null 2>&1 </dev/null &");
        assertThat(exec(b, "nc -w 3 " + ipAx + " 7001 </dev/null").exit()).as("tcp b -> ax").isNotZero();
        exec(b, "timeout 4 nslookup probe.invalid " + ipAx);
        assertThat(udpNoPorts(ax)).as("udp b -> ax").isEqualTo(axUdp);
        String spoofed = ipAx.substring(0, ipAx.lastIndexOf('.')) + ".200";
        exec(b, "ip addr add " + spoofed + "/24 dev eth0");
        assertThat(ping(b, ipAx)).as("b with a ta address -> ax").isFalse();
        assertThat(udpNoPorts(ax)).isEqualTo(axUdp);

        // mvm net verify covers the VXLAN device and its entries; the agent repairs drift.
        var clean = verify(host1, agent1);
        assertThat(clean.exit()).as(clean.out()).isZero();
        assertThat(clean.out()).contains("1 vxlan device(s) with 1 remote instance(s)");
        String device = hosts.exec(host1, "ip", "-br", "link", "show", "type", "vxlan").strip().split("[ @]")[0];
        hosts.exec(host1, "bridge", "fdb", "del", mac(ay), "dev", device, "dst", host2.underlay(), "self");
        var drift = verify(host1, agent1);
        assertThat(drift.exit()).isEqualTo(5);
        assertThat(drift.out()).contains("lacks fdb " + mac(ay) + " dst " + host2.underlay());
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1))
                .until(() -> verify(host1, agent1).exit() == 0);
        assertThat(pingEventually(ax, ipAy)).as("ax -> ay after the agent's repair").isTrue();

        // ax's host goes silent: ax is recreated on host 2 with its address, and reachable there.
        agent1.kill9();
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(500)).until(() ->
                fleet.node("vx-h1").path("status").asText().equals("lost"));
        await().atMost(RUNNING).pollInterval(Duration.ofSeconds(1)).until(() -> fleet.instances("ta").stream()
                .allMatch(i -> i.path("node").asText().equals("vx-h2") && i.path("state").asText().equals("running")));
        assertThat(fleet.instances("ta").stream().filter(i -> i.path("id").asText().equals(ax)).findFirst()
                .orElseThrow().path("ip").asText()).isEqualTo(ipAx);
        assertThat(pingEventually(ay, ipAx)).as("ay -> ax moved to host 2").isTrue();
        // ta runs on host 2 alone now: no VXLAN device there, and host 1's (stale, agent dead) is
        // cut off: host 2 admits VXLAN from no one.
        await().atMost(Duration.ofSeconds(30)).until(() ->
                hosts.exec(host2, "ip", "-d", "link", "show", "type", "vxlan").isBlank());

        // Host 1 comes back: it ends its stale copy and drops ta's network; a third ta instance
        // lands there and reaches the moved ax over VXLAN (host 1's entry points at host 2).
        agent1.start();
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).until(() ->
                fleet.node("vx-h1").path("status").asText().equals("ready"));
        await().atMost(RUNNING).pollInterval(Duration.ofSeconds(1)).until(() -> agent1.qemus().isEmpty());
        fleet.scale("ta", "web", 3, 0, 0);
        await().atMost(RUNNING).pollInterval(Duration.ofSeconds(1)).until(() -> allRunning("ta", 3));
        String az = instance("ta", "vx-h1").path("id").asText();
        assertThat(hosts.exec(host1, "bridge", "fdb", "show")).contains(mac(ax) + " dev mvx")
                .contains("dst " + host2.underlay());
        assertThat(pingEventually(az, ipAx)).as("az (host 1) -> ax (moved to host 2)").isTrue();
        assertThat(pingEventually(ax, instance("ta", "vx-h1").path("ip").asText())).as("ax -> az").isTrue();

        // Deleting tenant ta removes its VXLAN devices and entries on every host; tb is untouched.
        // A forced delete marks the instances destroyed (answering 409 until their nodes confirm),
        // then goes through once they are gone.
        await().atMost(RUNNING).pollInterval(Duration.ofSeconds(2)).ignoreExceptions().until(() -> {
            fleet.admin.delete("v1/tenants/ta?force=true");
            return true;
        });
        assertThat(agent1.qemus()).isEmpty();
        assertThat(agent2.qemus()).hasSize(1);
        for (var h : List.of(host1, host2)) {
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    hosts.exec(h, "ip", "-d", "link", "show", "type", "vxlan").isBlank());
            assertThat(hosts.exec(h, "bridge", "fdb", "show")).doesNotContain(" dst ");
            assertThat(hosts.exec(h, "ip", "neigh", "show", ipAx)).isBlank();
            assertThat(hosts.exec(h, "nft", "list", "ruleset")).doesNotContain("tenant ta", "vxlan_");
        }
        var after = verify(host2, agent2);
        assertThat(after.exit()).as(after.out()).isZero();
        assertThat(exec(b, "true").exit()).isZero();
    }
}
