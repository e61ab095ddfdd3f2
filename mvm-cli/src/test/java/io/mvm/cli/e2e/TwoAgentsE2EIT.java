package io.mvm.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two agent processes (own data dirs and node ids) and one coordinator: a pool of four small VMs is
 * spread two and two; an agent that stops heartbeating (killed -9, its VMs keep running) makes its
 * node {@code lost}, its instances move to the other node, and when it returns it destroys its
 * stale copies, so every instance runs exactly once.
 */
class TwoAgentsE2EIT {
    private static final Duration CONVERGE = Duration.ofMinutes(8);
    private Fleet fleet;
    @RegisterExtension
    final PrintLogsOnFailure logsOnFailure = new PrintLogsOnFailure(() -> fleet == null ? null : fleet.agentLogs());

    @AfterEach
    void stop() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void aPoolOfFourIsSpreadTwoAndTwoAndASilentNodeBecomesLost() throws Exception {
        fleet = Fleet.start("mvm-e2e-two-", Duration.ofSeconds(6), Duration.ofSeconds(2));
        var a = fleet.agent("e2e-two-a");
        var b = fleet.agent("e2e-two-b");
        await().atMost(Duration.ofMinutes(2)).until(() ->
                fleet.get("v1/nodes").path("items").size() == 2);
        fleet.post("v1/tenants", Map.of("id", "spread"));
        // "recreate": these instances' data disks may be lost with their node (the default, auto,
        // would keep instances with a data disk waiting for their node; see OutageE2EIT).
        fleet.createPool("spread", "workers", "worker", 128, 4, "on_node_lost", "recreate");

        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> {
            var all = fleet.instances("spread");
            return all.size() == 4 && all.stream().allMatch(i -> i.path("state").asText().equals("running"));
        });
        var perNode = fleet.instances("spread").stream()
                .collect(Collectors.groupingBy(i -> i.path("node").asText(), Collectors.counting()));
        assertThat(perNode).isEqualTo(Map.of("e2e-two-a", 2L, "e2e-two-b", 2L));
        assertThat(a.qemus()).hasSize(2);
        assertThat(b.qemus()).hasSize(2);

        b.kill9();
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(500)).until(() ->
                fleet.node("e2e-two-b").path("status").asText().equals("lost"));
        assertThat(fleet.node("e2e-two-a").path("status").asText()).isEqualTo("ready");

        // Its instances move to the node that still answers and run there...
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> fleet.instances("spread").stream()
                .allMatch(i -> i.path("node").asText().equals("e2e-two-a") && i.path("state").asText().equals("running")));
        await().atMost(Duration.ofMinutes(1)).until(() -> a.qemus().size() == 4);

        // ...and when the lost agent comes back it ends the VMs it no longer owns: no instance runs twice.
        b.start();
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).until(() ->
                fleet.node("e2e-two-b").path("status").asText().equals("ready"));
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> b.qemus().isEmpty());
        assertThat(a.qemus()).hasSize(4);
        assertThat(fleet.instances("spread")).hasSize(4);
    }
}
