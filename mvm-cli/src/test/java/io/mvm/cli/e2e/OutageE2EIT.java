package io.mvm.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A coordinator outage destroys nothing, black-box: two agents with one VM each, the coordinator
 * down for longer than twice the node timeout (long enough for every stored heartbeat to look
 * "lost past its grace period"), and the agents' heartbeats returning at different times after
 * the restart — one agent is frozen (SIGSTOP) through the outage and thawed a few seconds after.
 * The instances must stay on the same nodes, with the same VMM processes and their {@code /data}.
 * The pool says {@code on_node_lost = recreate}, so only liveness protects them here.
 */
class OutageE2EIT {
    private static final Duration NODE_TIMEOUT = Duration.ofSeconds(10);
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
    void aLongCoordinatorOutageMovesNothingAndKeepsEveryVmAndItsData() throws Exception {
        fleet = Fleet.start("mvm-e2e-outage-", NODE_TIMEOUT, Duration.ofSeconds(2));
        var a = fleet.agent("e2e-out-a");
        var b = fleet.agent("e2e-out-b");
        await().atMost(Duration.ofMinutes(2)).until(() -> fleet.get("v1/nodes").path("items").size() == 2);
        fleet.post("v1/tenants", Map.of("id", "outage"));
        fleet.createPool("outage", "w", "worker", 128, 2, "on_node_lost", "recreate");
        await().atMost(Duration.ofMinutes(8)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            var all = fleet.instances("outage");
            return all.size() == 2 && all.stream().allMatch(i -> i.path("state").asText().equals("running"));
        });
        Map<String, String> placement = placement();
        assertThat(placement.values()).containsExactlyInAnyOrder("e2e-out-a", "e2e-out-b");
        for (String id : placement.keySet()) {
            var run = fleet.mvm("instance", "exec", id, "--", "sh", "-c", "echo kept-" + id + " > /data/marker && sync");
            assertThat(run.exit()).as(run.err()).isZero();
        }
        List<Long> pidsA = a.qemus();
        List<Long> pidsB = b.qemus();
        assertThat(pidsA).hasSize(1);
        assertThat(pidsB).hasSize(1);

        // b freezes; the coordinator is down 25 s (> 2 x the node timeout) and comes back; a's
        // heartbeats resume at once, b's only once it is thawed 4 s after the restart.
        b.freeze();
        try {
            fleet.restartCoordinator(NODE_TIMEOUT.multipliedBy(2).plusSeconds(5));
            Thread.sleep(4_000);
        } finally {
            b.thaw();
        }
        // Watch for well past the node timeout and the grace period counted from the restart.
        long until = System.nanoTime() + NODE_TIMEOUT.multipliedBy(3).toNanos();
        while (System.nanoTime() < until) {
            assertThat(placement()).isEqualTo(placement);
            assertThat(fleet.node("e2e-out-a").path("status").asText()).isEqualTo("ready");
            Thread.sleep(500);
        }
        await().atMost(NODE_TIMEOUT).until(() -> fleet.node("e2e-out-b").path("status").asText().equals("ready"));
        assertThat(placement()).isEqualTo(placement);
        assertThat(a.qemus()).isEqualTo(pidsA);
        assertThat(b.qemus()).isEqualTo(pidsB);
        assertThat(fleet.node("e2e-out-a").path("status").asText()).isEqualTo("ready");
        for (String id : placement.keySet()) {
            var run = fleet.mvm("instance", "exec", id, "--", "cat", "/data/marker");
            assertThat(run.exit()).as(run.err()).isZero();
            assertThat(run.out()).contains("kept-" + id);
        }
        assertThat(fleet.instances("outage")).allSatisfy(i -> assertThat(i.path("state").asText()).isEqualTo("running"));
    }

    private Map<String, String> placement() {
        Map<String, String> out = new TreeMap<>();
        fleet.instances("outage").forEach(i -> out.put(i.path("id").asText(), i.path("node").asText()));
        return out;
    }
}
