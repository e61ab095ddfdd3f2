package io.mvm.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Scale to zero through the whole stack: the CLI creates a pool with a port and an idle policy,
 * the real coordinator puts both into the node's desired state, a real {@code mvm agent serve}
 * process boots a real microVM and serves the route; `mvm route list` shows the host port it
 * bound. With no traffic the agent idles the instance (the coordinator's intent stays running and
 * the pool shows it as idled); a TCP connection to the route wakes it and the coordinator hears of
 * it. (The agent runs with {@code --network none}, as every e2e agent does, so the guest has no NIC:
 * the woken instance's connection is closed instead of forwarded, with an event saying why;
 * ProxyWakeIT covers the answer on a real tap.)
 */
class RoutesE2EIT {
    private static final Duration CONVERGE = Duration.ofMinutes(5);
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
    void routesAreListedIdledInstancesCountAsAvailableAndAConnectionWakesThem() throws Exception {
        fleet = Fleet.start("mvm-e2e-routes-", Duration.ofSeconds(30), Duration.ofSeconds(2));
        fleet.agent("e2e-routes-a");
        fleet.post("v1/tenants", Map.of("id", "web"));
        var create = fleet.mvm("pool", "create", "web/site", "--flake", ".", "--profile", "minimal", "--cpus", "1",
                "--mem", "256", "--data-disk", "16", "--running", "1", "--port", "8080", "--idle", "warm_after=3s",
                "--idle", "sleep_after=15s", "--idle", "min_runtime=10s", "--idle", "cpu_threshold=0.5");
        assertThat(create.exit()).as(create.err()).isZero();
        assertThat(create.out()).contains("ports:     8080:any/tcp").contains("idle:      warm after 3s, sleep after 15s");

        // The node reports the route with the host port it bound; `mvm route list` shows it.
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() ->
                fleet.get("v1/routes?tenant=web").path("items").size() == 1
                        && fleet.get("v1/routes?tenant=web").path("items").get(0).path("host_port").isInt());
        JsonNode route = fleet.get("v1/routes?tenant=web").path("items").get(0);
        int hostPort = route.get("host_port").asInt();
        assertThat(route.get("node").asText()).isEqualTo("e2e-routes-a");
        assertThat(route.get("target").asText()).endsWith(":8080");
        var list = fleet.mvm("route", "list", "--tenant", "web");
        assertThat(list.exit()).as(list.err()).isZero();
        assertThat(list.out()).contains(route.get("instance").asText()).contains(Integer.toString(hostPort));

        // Nobody connects: the instance is idled to sleeping, still wanted running, counted as idled.
        String id = route.get("instance").asText();
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() ->
                fleet.get("v1/instances/" + id).path("state").asText().equals("sleeping"));
        assertThat(fleet.get("v1/instances/" + id).path("desired_state").asText()).isEqualTo("running");
        await().atMost(Duration.ofSeconds(30)).until(() ->
                fleet.get("v1/tenants/web/pools/site").path("available").path("idled").asInt() == 1);
        assertThat(fleet.events(id)).extracting(e -> e.path("type").asText()).contains("idled", "paused", "slept");
        var info = fleet.mvm("pool", "info", "web/site");
        assertThat(info.out()).contains("available: 0 running, 1 idled");

        // A connection to the route wakes it; the coordinator sees the wake and the instance run.
        try (var socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", hostPort), 5_000);
            await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() ->
                    fleet.get("v1/instances/" + id).path("state").asText().equals("running"));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.events(id).stream()
                .anyMatch(e -> e.path("type").asText().equals("wake-requested")));
        assertThat(fleet.events(id)).extracting(e -> e.path("type").asText()).contains("woken");
        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.events(id).stream().anyMatch(e ->
                e.path("type").asText().equals("connection-dropped")
                        && e.path("message").asText().contains("no instance networking")));
    }
}
