package io.mvm.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.coordinator.testing.ApiClient;
import io.mvm.coordinator.testing.ApiClient.Response;
import io.mvm.coordinator.testing.TestDatabase;
import io.mvm.model.NodeId;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Request floods cannot starve heartbeats: per-token and per-address rates, and in-flight budgets apart for nodes. */
class RequestFloodIT {
    private TestDatabase db;
    private Coordinator coordinator;
    private ApiClient admin;
    private ApiClient node;

    @BeforeEach
    void start() throws Exception {
        db = TestDatabase.Kind.SQLITE.create();
        coordinator = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0).withHousekeepingInterval(Duration.ofHours(1))
                // 0.2/s: the test's requests never earn a token back while it runs
                .withHttpLimits(new HttpLimits(0.2, 5, 0.2, 3, 64, 1, 1, 1)));
        admin = new ApiClient(coordinator.port(), Files.readString(coordinator.adminTokenFile()).strip());
        node = admin.withToken(coordinator.issueNodeToken(NodeId.of("node-a")));
        assertThat(node.post("/v1/nodes/register", Map.of("node_id", "node-a", "capacity",
                Map.of("vcpus", 4, "memory_mib", 4096, "disk_mib", 10_000), "accelerator", "tcg")).status()).isEqualTo(200);
    }

    @AfterEach
    void stop() {
        try {
            coordinator.stop();
        } finally {
            db.close();
        }
    }

    @Test
    void aTokenThatFloodsIsRefusedWith429WhileTheNodeKeepsHeartbeating() {
        int refused = 0;
        for (int i = 0; i < 10; i++) {
            Response r = admin.get("/v1/tenants");
            if (r.status() == 429) {
                refused++;
                assertThat(r.header("retry-after")).matches("\\d+");
                assertThat(r.json().get("type").asText()).endsWith("/rate-limited");
            }
        }
        assertThat(refused).as("5 of 10 over the burst of 5").isEqualTo(5);
        for (int i = 0; i < 20; i++) {
            assertThat(node.post("/v1/nodes/node-a/heartbeat", Map.of()).status()).isEqualTo(204);
        }
    }

    @Test
    void badTokensFromOneAddressAreCutOffBeforeTheDatabase() {
        ApiClient stranger = admin.withToken("mvm_guessing");
        List<Integer> statuses = new java.util.ArrayList<>();
        for (int i = 0; i < 6; i++) {
            statuses.add(stranger.get("/v1/tenants").status());
        }
        assertThat(statuses).containsExactly(401, 401, 401, 429, 429, 429);
        assertThat(node.post("/v1/nodes/node-a/heartbeat", Map.of()).status()).isEqualTo(204);
    }

    @Test
    void userRequestsInFlightHaveABudgetOfTheirOwnThatNodeTrafficNeverWaitsFor() throws Exception {
        assertThat(admin.post("/vms", Map.of("job_id", "slow", "spec", Map.of("cmd", List.of("x"),
                "resources", Map.of("vcpu", 1, "mem_mb", 64), "lifecycle", "service"))).status()).isEqualTo(202);
        // One user request holds the only user slot (a wait that cannot succeed: no VM runs).
        CompletableFuture<Response> holding = CompletableFuture.supplyAsync(
                () -> admin.get("/vms/slow?wait=running&timeout=3s"));
        Thread.sleep(500);
        assertThat(admin.withToken(coordinator.issueNodeToken(NodeId.of("x"))).get("/openapi.json").status())
                .as("another user request finds the budget spent").isEqualTo(429);
        assertThat(node.post("/v1/nodes/node-a/heartbeat", Map.of()).status()).as("node traffic is apart").isEqualTo(204);
        assertThat(holding.get(10, TimeUnit.SECONDS).status()).isEqualTo(408);
    }
}
