package io.mvm.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.coordinator.testing.ApiClient;
import io.mvm.coordinator.testing.ApiClient.Response;
import io.mvm.coordinator.testing.TemplateFixture;
import io.mvm.coordinator.testing.FakeAgent;
import io.mvm.coordinator.testing.ManualClock;
import io.mvm.coordinator.testing.TestDatabase;
import io.mvm.model.NodeId;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The node side of the coordinator (agent protocol, node tokens, scheduling, lost nodes, the
 * exec/logs relay) against a real coordinator on a real database. A fresh coordinator and database
 * per test, since nodes are fleet-wide. Time is a manual clock; housekeeping runs when a test
 * calls it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
abstract class FleetContract {
    private static final String AGENT_TOKEN = "agent-token-0123456789abcdefABCDEF";
    private TestDatabase db;
    private Coordinator coordinator;
    private ApiClient admin;
    private final ManualClock clock = new ManualClock(Instant.parse("2026-11-21T12:00:00Z"));

    abstract TestDatabase.Kind kind();

    @BeforeEach
    void start() throws Exception {
        db = kind().create();
        coordinator = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0).withClock(clock)
                .withNodeTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(5))
                .withHousekeepingInterval(Duration.ofHours(1)));
        admin = new ApiClient(coordinator.port(), Files.readString(coordinator.adminTokenFile()).strip());
    }

    @AfterEach
    void stop() {
        try {
            if (coordinator != null) {
                coordinator.stop();
            }
        } finally {
            if (db != null) {
                db.close();
            }
        }
    }

    // ---- helpers ----

    private ApiClient nodeClient(String node) {
        return admin.withToken(coordinator.issueNodeToken(NodeId.of(node)));
    }

    private static Map<String, Object> registration(String node, int vcpus, long memoryMib, Object... extra) {
        Map<String, Object> body = new HashMap<>(Map.of("node_id", node,
                "capacity", Map.of("vcpus", vcpus, "memory_mib", memoryMib, "disk_mib", 100_000),
                "labels", Map.of("zone", "eu"), "accelerator", "tcg"));
        for (int i = 0; i < extra.length; i += 2) {
            body.put((String) extra[i], extra[i + 1]);
        }
        return body;
    }

    private ApiClient register(String node, int vcpus, long memoryMib, Object... extra) {
        ApiClient client = nodeClient(node);
        Response r = client.post("/v1/nodes/register", registration(node, vcpus, memoryMib, extra));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return client;
    }

    private void restartCoordinator() throws Exception {
        coordinator.stop();
        coordinator = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0).withClock(clock)
                .withNodeTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(5))
                .withHousekeepingInterval(Duration.ofHours(1)));
        admin = new ApiClient(coordinator.port(), Files.readString(coordinator.adminTokenFile()).strip());
    }

    private ApiClient reconnect(ApiClient client) {
        return client.withPort(coordinator.port());
    }

    private String nodeStatus(String node) {
        return admin.get("/v1/nodes/" + node).json().get("status").asText();
    }

    private Map<String, String> placement(String tenant) {
        Map<String, String> out = new TreeMap<>();
        instances(tenant).forEach(i -> out.put(i.get("id").asText(), i.get("node").asText()));
        return out;
    }

    private void tenantWithPool(String tenant, String pool, int running, int vcpus, Object... extra) {
        assertThat(admin.post("/v1/tenants", Map.of("id", tenant, "max_vcpus", 64, "max_memory_mib", 1 << 20))
                .status()).isEqualTo(201);
        Map<String, Object> body = new HashMap<>(Map.of("name", pool, "profile", "minimal", "flake", ".",
                "vcpus", vcpus, "memory_mib", 256, "data_disk_mib", 512, "running", running));
        for (int i = 0; i < extra.length; i += 2) {
            body.put((String) extra[i], extra[i + 1]);
        }
        Response r = admin.post("/v1/tenants/" + tenant + "/pools", body);
        assertThat(r.status()).as(r.toString()).isEqualTo(201);
    }

    private List<JsonNode> instances(String tenant) {
        List<JsonNode> out = new ArrayList<>();
        admin.get("/v1/tenants/" + tenant + "/instances").json().get("items").forEach(out::add);
        return out;
    }

    private JsonNode desired(ApiClient client, String node) {
        Response r = client.get("/v1/nodes/" + node + "/desired");
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return r.json();
    }

    private static Map<String, Object> report(long generation, Map<String, Object>... instances) {
        return Map.of("desired_generation", generation, "instances", List.of(instances));
    }

    private static Map<String, Object> observed(String id, String state, Object... extra) {
        Map<String, Object> m = new HashMap<>(Map.of("id", id, "state", state, "accelerator", "tcg",
                "events", List.of()));
        for (int i = 0; i < extra.length; i += 2) {
            m.put((String) extra[i], extra[i + 1]);
        }
        return m;
    }

    private static void assertProblem(Response r, int status, String detailPart) {
        assertThat(r.status()).as(r.toString()).isEqualTo(status);
        assertThat(r.header("content-type")).startsWith("application/problem+json");
        assertThat(r.json().get("detail").asText()).contains(detailPart);
    }

    // ---- registration and tokens ----

    @Test
    void registrationIsIdempotentAndNodesShowCapacityAllocationAndHeartbeat() {
        ApiClient node = register("node-a", 8, 16384, "agent_url", "http://127.0.0.1:1", "agent_token", AGENT_TOKEN,
                "some_future_field", 7);
        // A smaller host applies at once (a bigger one waits for approval: see below).
        Response again = node.post("/v1/nodes/register", registration("node-a", 4, 8192));
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().get("node_id").asText()).isEqualTo("node-a");
        assertThat(again.json().get("heartbeat_interval_secs").asInt()).isEqualTo(5);

        JsonNode list = admin.get("/v1/nodes").json().get("items");
        assertThat(list).hasSize(1);
        JsonNode n = list.get(0);
        assertThat(n.get("status").asText()).isEqualTo("ready");
        assertThat(n.get("capacity").get("vcpus").asInt()).isEqualTo(4);
        assertThat(n.get("capacity").get("memory_mib").asLong()).isEqualTo(8192);
        assertThat(n.get("allocated").get("vcpus").asInt()).isZero();
        assertThat(n.get("last_heartbeat").asText()).isEqualTo("2026-11-21T12:00:00Z");
        assertThat(n.get("labels").get("zone").asText()).isEqualTo("eu");

        tenantWithPool("acme", "w", 2, 2);
        JsonNode one = admin.get("/v1/nodes/node-a").json();
        assertThat(one.get("allocated").get("vcpus").asInt()).isEqualTo(4);
        assertThat(one.get("allocated").get("memory_mib").asLong()).isEqualTo(512);
        assertThat(one.get("instances").asInt()).isEqualTo(2);
        assertThat(admin.get("/v1/nodes").body() + node.get("/v1/nodes/node-a").body()).doesNotContain(AGENT_TOKEN)
                .doesNotContain(coordinator.controlChannel().relayToken(io.mvm.model.NodeId.of("node-a")));

        clock.advance(Duration.ofSeconds(3));
        assertThat(node.post("/v1/nodes/node-a/heartbeat", Map.of("sent_at", "2026-11-21T12:00:03Z",
                "instance_count", 0)).status()).isEqualTo(204);
        assertThat(admin.get("/v1/nodes/node-a").json().get("last_heartbeat").asText()).isEqualTo("2026-11-21T12:00:03Z");
    }

    @Test
    void nodeTokensAreScopedToTheirNodeAndCannotUseTenantRoutes() {
        ApiClient a = register("node-a", 4, 8192);
        assertProblem(a.post("/v1/nodes/register", registration("node-b", 4, 8192)), 403, "node-a");
        assertProblem(a.post("/v1/nodes/node-b/heartbeat", Map.of()), 403, "node-b");
        assertProblem(a.get("/v1/nodes/node-b/desired"), 403, "node-b");
        assertProblem(a.post("/v1/nodes/node-b/observed", report(0)), 403, "node-b");
        assertProblem(a.get("/v1/nodes/node-b"), 403, "node-b");
        assertProblem(a.get("/v1/nodes"), 403, "token may not use it");
        assertProblem(a.get("/v1/tenants"), 403, "token may not use it");
        assertProblem(a.post("/v1/tenants", Map.of("id", "evil")), 403, "token may not use it");
        assertProblem(a.post("/v1/node-tokens", Map.of("node_id", "node-c")), 403, "token may not use it");
        assertThat(admin.get("/v1/tenants/evil").status()).isEqualTo(404);
        assertThat(a.get("/v1/nodes/node-a/desired").status()).isEqualTo(200);
        assertThat(a.get("/v1/nodes/node-a").status()).isEqualTo(200);

        Response minted = admin.post("/v1/node-tokens", Map.of("node_id", "node-b"));
        assertThat(minted.status()).isEqualTo(201);
        String token = minted.json().get("token").asText();
        assertThat(token).hasSizeGreaterThan(40);
        ApiClient b = admin.withToken(token);
        assertThat(b.post("/v1/nodes/register", registration("node-b", 2, 4096)).status()).isEqualTo(200);
        assertProblem(b.post("/v1/nodes/register", registration("node-a", 2, 4096)), 403, "node-b");
        assertProblem(admin.withToken("mvmn_forged").get("/v1/nodes/node-b/desired"), 401, "invalid");
        assertProblem(admin.post("/v1/node-tokens", Map.of("node_id", "Not A Node")), 400, "invalid node id");

        assertProblem(a.post("/v1/nodes/register", Map.of("node_id", "node-a", "accelerator", "tcg")), 400,
                "capacity");
        assertProblem(a.post("/v1/nodes/register", registration("node-a", 2, 4096, "agent_url", "ftp://x")), 400,
                "agent_url");
        assertProblem(nodeClient("ghost").post("/v1/nodes/ghost/heartbeat", Map.of()), 404, "not registered");
        // Desired state carries secrets: only the node's own token reads it, not even the admin.
        assertProblem(admin.get("/v1/nodes/node-a/desired"), 403, "node node-a's own token");
        assertProblem(admin.post("/v1/nodes/node-a/heartbeat", Map.of()), 403, "node node-a's own token");
    }

    @Test
    void nodeTokensAreListedWithoutSecretsAndARevokedOneIsRefusedFromItsNextRequest() throws Exception {
        Response minted = admin.post("/v1/node-tokens", Map.of("node_id", "node-b"));
        String id = minted.json().get("id").asText();
        String secret = minted.json().get("token").asText();
        ApiClient b = admin.withToken(secret);
        assertThat(b.post("/v1/nodes/register", registration("node-b", 2, 4096)).status()).isEqualTo(200);

        Response listed = admin.get("/v1/node-tokens");
        assertThat(listed.status()).isEqualTo(200);
        JsonNode entry = java.util.stream.StreamSupport.stream(listed.json().get("items").spliterator(), false)
                .filter(t -> t.get("id").asText().equals(id)).findFirst().orElseThrow();
        assertThat(entry.get("node_id").asText()).isEqualTo("node-b");
        assertThat(entry.get("created_at").asText()).isEqualTo("2026-11-21T12:00:00Z");
        assertThat(entry.get("revoked_at").isNull()).isTrue();
        assertThat(listed.body()).doesNotContain(secret).doesNotContain(io.mvm.coordinator.auth.TokenAuthenticator.hash(secret));
        assertProblem(b.get("/v1/node-tokens"), 403, "token may not use it");
        assertProblem(b.delete("/v1/node-tokens/" + id, Map.of()), 403, "token may not use it");

        clock.advance(Duration.ofSeconds(7));
        assertThat(admin.delete("/v1/node-tokens/" + id, Map.of()).status()).isEqualTo(204);

        assertProblem(b.post("/v1/nodes/node-b/heartbeat", Map.of()), 401, "revoked");
        assertProblem(b.get("/v1/nodes/node-b/desired"), 401, "revoked");
        JsonNode revoked = java.util.stream.StreamSupport.stream(admin.get("/v1/node-tokens").json().get("items").spliterator(), false)
                .filter(t -> t.get("id").asText().equals(id)).findFirst().orElseThrow();
        assertThat(revoked.get("revoked_at").asText()).isEqualTo("2026-11-21T12:00:07Z");
        clock.advance(Duration.ofSeconds(5));
        assertThat(admin.delete("/v1/node-tokens/" + id, Map.of()).status()).as("revoking twice is a no-op").isEqualTo(204);
        assertThat(java.util.stream.StreamSupport.stream(admin.get("/v1/node-tokens").json().get("items").spliterator(), false)
                .filter(t -> t.get("id").asText().equals(id)).findFirst().orElseThrow().get("revoked_at").asText())
                .isEqualTo("2026-11-21T12:00:07Z");
        assertProblem(admin.delete("/v1/node-tokens/no-such-token", Map.of()), 404, "no node token");

        // A new token for the same node works: revocation is per token, not per node.
        ApiClient again = admin.withToken(admin.post("/v1/node-tokens", Map.of("node_id", "node-b")).json().get("token").asText());
        assertThat(again.post("/v1/nodes/node-b/heartbeat", Map.of()).status()).isEqualTo(204);

        List<String> trail = new ArrayList<>();
        Long after = 0L;
        while (after != null) { // pages of 2 prove next_after pages on
            JsonNode page = admin.get("/v1/audit?limit=2&after=" + after).json();
            page.get("entries").forEach(e -> trail.add(e.get("actor").asText() + " " + e.get("action").asText() + " "
                    + e.get("resource").asText()));
            after = page.get("next_after").isNull() ? null : page.get("next_after").asLong();
        }
        assertThat(trail).contains("admin:admin node-token.create node-tokens/" + id + " (node node-b)",
                "admin:admin node-token.revoke node-tokens/" + id + " (node node-b)");
        assertThat(trail).filteredOn(line -> line.contains("node-token.revoke")).hasSize(1);
        assertThat(trail).anySatisfy(line -> assertThat(line).startsWith("anonymous auth.denied"));
        assertThat(String.join("\n", trail)).doesNotContain(secret);
        assertProblem(again.get("/v1/audit"), 403, "token may not use it");
        assertProblem(admin.get("/v1/audit?limit=0"), 400, "limit");
        assertProblem(admin.get("/v1/audit?limit=-4294967295"), 400, "limit");
    }

    // ---- desired state and the long poll ----

    @Test
    void desiredListsEverythingTheAgentNeedsAndSecretsStayWriteOnly() {
        ApiClient node = register("node-a", 8, 16384);
        tenantWithPool("acme", "gw", 1, 1, "role", "gateway", "cmd", List.of("/bin/serve", "--port", "80"),
                "env", Map.of("MODE", "prod"), "secrets", Map.of("api-token", "s3cr3t-value"),
                "config_files", Map.of("gateway.json", "{}"));
        JsonNode d = desired(node, "node-a");
        assertThat(d.get("instances")).hasSize(1);
        JsonNode i = d.get("instances").get(0);
        JsonNode listed = instances("acme").getFirst();
        assertThat(i.get("id").asText()).isEqualTo(listed.get("id").asText());
        assertThat(i.get("tenant").asText()).isEqualTo("acme");
        assertThat(i.get("pool").asText()).isEqualTo("gw");
        assertThat(i.get("role").asText()).isEqualTo("gateway");
        assertThat(i.get("desired_state").asText()).isEqualTo("running");
        assertThat(i.get("vcpus").asInt()).isEqualTo(1);
        assertThat(i.get("memory_mib").asLong()).isEqualTo(256);
        assertThat(i.get("data_disk_mib").asLong()).isEqualTo(512);
        assertThat(i.get("ip").asText()).isEqualTo(listed.get("ip").asText()).endsWith(".2");
        assertThat(i.get("prefix").asInt()).isEqualTo(24);
        assertThat(i.get("gateway").asText()).endsWith(".1");
        assertThat(i.get("mac").asText()).matches("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
        assertThat(i.get("net_id").isInt()).isTrue();
        assertThat(i.get("cmd").toString()).isEqualTo("[\"/bin/serve\",\"--port\",\"80\"]");
        assertThat(i.get("env").get("MODE").asText()).isEqualTo("prod");
        assertThat(i.get("secrets").get("api-token").asText()).isEqualTo("s3cr3t-value");
        assertThat(i.get("config_files").get("gateway.json").asText()).isEqualTo("{}");
        assertThat(i.get("revision").asText()).isNotEmpty();

        Response pool = admin.get("/v1/tenants/acme/pools/gw");
        assertThat(pool.body()).doesNotContain("s3cr3t-value").contains("api-token");
        assertThat(admin.get("/v1/tenants/acme/audit").body()).doesNotContain("s3cr3t-value");
        assertProblem(admin.patch("/v1/tenants/acme/pools/gw", "{\"env\": {\"A\": null}}", Map.of()), 400, "null");
        assertProblem(admin.patch("/v1/tenants/acme/pools/gw", Map.of("env", Map.of("bad name", "x")), Map.of()), 400,
                "invalid env name");
        assertThat(admin.patch("/v1/tenants/acme/pools/gw", Map.of("secrets", Map.of("api-token", "rotated")), Map.of())
                .body()).doesNotContain("rotated");
        assertThat(desired(node, "node-a").get("instances").get(0).get("secrets").get("api-token").asText())
                .isEqualTo("rotated");
    }

    @Test
    void longPollAnswersAtOnceWhenBehindAfterWaitOtherwiseAndWakesOnScale() throws Exception {
        ApiClient node = register("node-a", 8, 16384);
        tenantWithPool("acme", "w", 1, 1);
        long g = desired(node, "node-a").get("generation").asLong();
        assertThat(g).isPositive();

        long t0 = System.nanoTime();
        Response behind = node.get("/v1/nodes/node-a/desired?after_generation=" + (g - 1) + "&wait_secs=30");
        assertThat(behind.json().get("generation").asLong()).isEqualTo(g);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));

        t0 = System.nanoTime();
        Response timedOut = node.get("/v1/nodes/node-a/desired?after_generation=" + g + "&wait_secs=1");
        assertThat(timedOut.status()).isEqualTo(200);
        assertThat(timedOut.json().get("generation").asLong()).isEqualTo(g);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(950));

        CompletableFuture<Response> poll = CompletableFuture.supplyAsync(
                () -> node.get("/v1/nodes/node-a/desired?after_generation=" + g + "&wait_secs=100"));
        Thread.sleep(300);
        assertThat(poll).isNotDone();
        assertThat(admin.patch("/v1/tenants/acme/pools/w", Map.of("running", 2), Map.of()).status()).isEqualTo(200);
        JsonNode woke = poll.get(60, TimeUnit.SECONDS).json();
        assertThat(woke.get("generation").asLong()).isGreaterThan(g);
        assertThat(woke.get("instances")).hasSize(2);

        assertProblem(node.get("/v1/nodes/node-a/desired?after_generation=1&wait_secs=9999"), 400, "wait_secs");
        assertProblem(node.get("/v1/nodes/node-a/desired?after_generation=x"), 400, "after_generation");
    }

    @Test
    void aLongPollOnOneCoordinatorSeesAChangeMadeThroughAnother() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(kind() == TestDatabase.Kind.POSTGRESQL,
                "a SQLite file serves one coordinator");
        ApiClient node = register("node-a", 8, 16384);
        tenantWithPool("acme", "w", 1, 1);
        long g = desired(node, "node-a").get("generation").asLong();
        try (Coordinator second = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0).withClock(clock).withHousekeepingInterval(Duration.ofHours(1)))) {
            ApiClient viaSecond = new ApiClient(second.port(), null).withToken(second.issueNodeToken(NodeId.of("node-a")));
            CompletableFuture<Response> poll = CompletableFuture.supplyAsync(
                    () -> viaSecond.get("/v1/nodes/node-a/desired?after_generation=" + g + "&wait_secs=100"));
            Thread.sleep(300);
            long t0 = System.nanoTime();
            assertThat(admin.patch("/v1/tenants/acme/pools/w", Map.of("running", 3), Map.of()).status()).isEqualTo(200);
            JsonNode woke = poll.get(60, TimeUnit.SECONDS).json();
            assertThat(woke.get("generation").asLong()).isGreaterThan(g);
            assertThat(woke.get("instances")).hasSize(3);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(50));
        }
    }

    @Test
    void stoppingTheCoordinatorAnswersPendingLongPollsAtOnce() throws Exception {
        ApiClient node = register("node-a", 8, 16384);
        long g = desired(node, "node-a").get("generation").asLong();
        CompletableFuture<Response> poll = CompletableFuture.supplyAsync(
                () -> node.get("/v1/nodes/node-a/desired?after_generation=" + g + "&wait_secs=200"));
        Thread.sleep(300);
        long t0 = System.nanoTime();
        coordinator.stop();
        coordinator = null;
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(30));
        Response answered = poll.handle((r, e) -> r).get(30, TimeUnit.SECONDS);
        if (answered != null) {
            assertThat(answered.status()).isIn(200, 503);
        }
    }

    @Test
    void generationMovesExactlyWhenTheNodesListChanges() {
        ApiClient node = register("node-a", 8, 16384);
        long g0 = desired(node, "node-a").get("generation").asLong();
        tenantWithPool("acme", "w", 1, 1);
        long g1 = desired(node, "node-a").get("generation").asLong();
        assertThat(g1).isGreaterThan(g0);

        // No change: same counts, a tenant with nothing on this node, a heartbeat, a housekeeping pass.
        admin.patch("/v1/tenants/acme/pools/w", Map.of("running", 1), Map.of());
        admin.post("/v1/tenants", Map.of("id", "other"));
        node.post("/v1/nodes/node-a/heartbeat", Map.of());
        coordinator.runHousekeeping();
        assertThat(desired(node, "node-a").get("generation").asLong()).isEqualTo(g1);

        admin.patch("/v1/tenants/acme/pools/w", Map.of("running", 0, "warm", 1), Map.of());
        JsonNode warm = desired(node, "node-a");
        assertThat(warm.get("generation").asLong()).isGreaterThan(g1);
        assertThat(warm.get("instances").get(0).get("desired_state").asText()).isEqualTo("warm");

        long g2 = warm.get("generation").asLong();
        admin.patch("/v1/tenants/acme/pools/w", Map.of("memory_mib", 512), Map.of());
        long g3 = desired(node, "node-a").get("generation").asLong();
        assertThat(g3).isGreaterThan(g2);

        // Persisted: a restarted coordinator continues from it, never below.
        coordinator.stop();
        coordinator = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0).withClock(clock).withHousekeepingInterval(Duration.ofHours(1)));
        ApiClient again = new ApiClient(coordinator.port(), null).withToken(coordinator.issueNodeToken(NodeId.of("node-a")));
        assertThat(desired(again, "node-a").get("generation").asLong()).isEqualTo(g3);
    }

    // ---- routes and idle policy (scale to zero) ----

    @Test
    void poolPortsAndIdlePolicyReachTheNodeAndReportedRoutesAreListed() {
        ApiClient node = register("node-a", 8, 16384);
        tenantWithPool("acme", "web", 2, 1, "ports", List.of(Map.of("guest", 8080)),
                "idle", Map.of("warm_after", "2s", "sleep_after", "4s", "min_runtime", "1s", "cpu_threshold", 0.2));
        JsonNode pool = admin.get("/v1/tenants/acme/pools/web").json();
        assertThat(pool.get("ports").get(0).get("guest").asInt()).isEqualTo(8080);
        assertThat(pool.get("ports").get(0).get("host").asInt()).isZero();
        assertThat(pool.get("idle").get("warm_after").asText()).isEqualTo("2s");
        assertThat(pool.get("idle").get("sleep_after").asText()).isEqualTo("4s");

        JsonNode d = desired(node, "node-a");
        long g = d.get("generation").asLong();
        JsonNode entry = d.get("instances").get(0);
        assertThat(entry.get("ports").get(0).get("guest").asInt()).isEqualTo(8080);
        assertThat(entry.get("ports").get(0).get("protocol").asText()).isEqualTo("tcp");
        assertThat(entry.get("idle").get("warm_after_ms").asLong()).isEqualTo(2000);
        assertThat(entry.get("idle").get("sleep_after_ms").asLong()).isEqualTo(4000);
        assertThat(entry.get("idle").get("cpu_threshold").asDouble()).isEqualTo(0.2);

        // The node reports the ports it bound; one instance idled to sleeping by the policy.
        String a = d.get("instances").get(0).get("id").asText();
        String b = d.get("instances").get(1).get("id").asText();
        String ipA = d.get("instances").get(0).get("ip").asText();
        var route = Map.of("guest_port", 8080, "host_port", 41234, "protocol", "tcp");
        assertThat(node.post("/v1/nodes/node-a/observed", report(g, observed(a, "running", "routes", List.of(route)),
                observed(b, "sleeping", "idled", "sleeping", "routes", List.of(Map.of("guest_port", 8080,
                        "protocol", "tcp", "error", "cannot listen on host port 80: in use"))))).status())
                .isEqualTo(204);
        JsonNode routes = admin.get("/v1/routes").json().get("items");
        assertThat(routes).hasSize(2);
        JsonNode ra = routes.get(0).get("instance").asText().equals(a) ? routes.get(0) : routes.get(1);
        JsonNode rb = ra == routes.get(0) ? routes.get(1) : routes.get(0);
        assertThat(ra.get("host_port").asInt()).isEqualTo(41234);
        assertThat(ra.get("target").asText()).isEqualTo(ipA + ":8080");
        assertThat(ra.get("node").asText()).isEqualTo("node-a");
        assertThat(ra.get("tenant").asText()).isEqualTo("acme");
        assertThat(rb.get("host_port").isNull()).isTrue();
        assertThat(rb.get("error").asText()).contains("in use");
        assertThat(admin.get("/v1/routes?tenant=other").json().get("items")).isEmpty();

        // Running vs idled: both are available, one idled by the policy.
        JsonNode available = admin.get("/v1/tenants/acme/pools/web").json().get("available");
        assertThat(available.get("running").asInt()).isEqualTo(1);
        assertThat(available.get("idled").asInt()).isEqualTo(1);

        // Tenant tokens see their own routes only.
        String other = admin.post("/v1/tenants", Map.of("id", "other", "max_vcpus", 4, "max_memory_mib", 4096))
                .status() == 201 ? admin.post("/v1/tokens", Map.of("kind", "tenant", "tenant", "other", "role",
                "tenant-read")).json().get("token").asText() : null;
        ApiClient otherReader = admin.withToken(other);
        assertThat(otherReader.get("/v1/routes").json().get("items")).isEmpty();
        assertProblem(otherReader.get("/v1/routes?tenant=acme"), 403, "tenant other");

        // A policy change reaches the node without restarts: a new generation without the policy.
        assertThat(admin.patch("/v1/tenants/acme/pools/web", Map.of("idle", Map.of()), Map.of()).status())
                .isEqualTo(200);
        JsonNode after = desired(node, "node-a");
        assertThat(after.get("generation").asLong()).isGreaterThan(g);
        assertThat(after.get("instances").get(0).get("idle").isNull()).isTrue();
        assertThat(after.get("instances").get(0).get("ports").get(0).get("guest").asInt()).isEqualTo(8080);
        assertThat(admin.get("/v1/tenants/acme/pools/web").json().get("idle").isNull()).isTrue();

        // Bad input: 400 with the reason.
        assertProblem(admin.patch("/v1/tenants/acme/pools/web", Map.of("ports", List.of(Map.of("guest", 0))), Map.of()),
                400, "guest");
        assertProblem(admin.patch("/v1/tenants/acme/pools/web", Map.of("idle", Map.of("warm_after", "soon")),
                Map.of()), 400, "not a duration");
        assertProblem(admin.patch("/v1/tenants/acme/pools/web", Map.of("idle", Map.of("warm_after", "10m",
                "sleep_after", "1m")), Map.of()), 400, "sleep_after");
        assertProblem(admin.patch("/v1/tenants/acme/pools/web", Map.of("ports", List.of(Map.of("guest", 80,
                "protocol", "udp"))), Map.of()), 400, "tcp");

        // Removing the ports removes them from the node's list; the reported routes go with the instances.
        assertThat(admin.patch("/v1/tenants/acme/pools/web", Map.of("ports", List.of(), "running", 0), Map.of())
                .status()).isEqualTo(200);
        assertThat(desired(node, "node-a").get("instances").get(0).get("ports").isNull()).isTrue();
    }

    // ---- observed state ----

    @Test
    void observedReportsUpdateStateAndAppendEventsOnceAndConfirmedDestroysAreForgotten() {
        ApiClient node = register("node-a", 8, 16384);
        tenantWithPool("acme", "w", 1, 1);
        String id = instances("acme").getFirst().get("id").asText();
        String ip = instances("acme").getFirst().get("ip").asText();
        long g = desired(node, "node-a").get("generation").asLong();

        Map<String, Object> created = Map.of("time", "2026-11-21T11:59:58Z", "type", "created", "message", "booted");
        Map<String, Object> started = Map.of("time", "2026-11-21T11:59:59Z", "type", "started");
        var rep = report(g, observed(id, "running", "pid", 4242, "events", List.of(created, started)));
        assertThat(node.post("/v1/nodes/node-a/observed", rep).status()).isEqualTo(204);
        assertThat(node.post("/v1/nodes/node-a/observed", rep).status()).isEqualTo(204);

        JsonNode i = admin.get("/v1/instances/" + id).json();
        assertThat(i.get("state").asText()).isEqualTo("running");
        assertThat(i.get("pid").asLong()).isEqualTo(4242);
        assertThat(i.get("accelerator").asText()).isEqualTo("tcg");
        assertThat(i.get("node").asText()).isEqualTo("node-a");
        JsonNode events = admin.get("/v1/instances/" + id + "/events").json().get("items");
        assertThat(events).hasSize(2);
        assertThat(events.get(0).get("type").asText()).isEqualTo("created");
        assertThat(events.get(0).get("message").asText()).isEqualTo("booted");
        assertThat(events.get(1).get("type").asText()).isEqualTo("started");
        assertThat(admin.get("/v1/nodes/node-a").json().get("observed_generation").asLong()).isEqualTo(g);

        node.post("/v1/nodes/node-a/observed", report(g, observed(id, "failed", "last_error", "the VMM exited")));
        assertThat(admin.get("/v1/instances/" + id).json().get("last_error").asText()).isEqualTo("the VMM exited");
        assertThat(admin.get("/v1/instances/" + id).json().get("pid").isNull()).isTrue();

        // An instance of another node, or an unknown one, is ignored.
        assertThat(node.post("/v1/nodes/node-a/observed", report(g, observed("i-000000000000", "running")))
                .status()).isEqualTo(204);
        assertProblem(node.post("/v1/nodes/node-a/observed", report(g, observed(id, "flying"))), 400, "flying");

        assertThat(admin.patch("/v1/tenants/acme/pools/w", Map.of("running", 0), Map.of()).status()).isEqualTo(200);
        assertThat(admin.get("/v1/instances/" + id).json().get("desired_state").asText()).isEqualTo("destroyed");
        JsonNode d = desired(node, "node-a");
        assertThat(d.get("instances").get(0).get("desired_state").asText()).isEqualTo("destroyed");
        node.post("/v1/nodes/node-a/observed", report(d.get("generation").asLong(), observed(id, "destroyed",
                "events", List.of(Map.of("time", "2026-11-21T12:00:01Z", "type", "destroyed")))));
        assertThat(admin.get("/v1/instances/" + id).status()).isEqualTo(404);
        assertThat(desired(node, "node-a").get("instances")).isEmpty();
        admin.patch("/v1/tenants/acme/pools/w", Map.of("running", 1), Map.of());
        assertThat(instances("acme").getFirst().get("ip").asText()).isEqualTo(ip);
        assertThat(admin.delete("/v1/tenants/acme/pools/w", Map.of()).status()).isIn(204, 409);
    }

    @Test
    void aPoolsTemplateReachesItsNodesDesiredState() {
        ApiClient node = register("node-a", 8, 16384);
        TemplateFixture.create(admin, "web");
        String first = TemplateFixture.build(admin, "web-worker", "first");
        tenantWithPool("acme", "web", 1, 1, "template", "web-worker");
        tenantWithPool("other", "plain", 1, 1);
        Map<String, String> templates = new TreeMap<>();
        desired(node, "node-a").get("instances").forEach(i -> templates.put(i.get("pool").asText(),
                i.get("template").isNull() ? "-" : i.get("template").asText()));
        assertThat(templates).isEqualTo(Map.of("web", "web-worker", "plain", "-"));

        // The desired state names the revision to boot and every file of it by digest.
        JsonNode web = webEntry(node);
        assertThat(web.get("template_revision").asText()).isEqualTo(first);
        assertThat(web.get("artifacts").findValuesAsText("role")).containsExactlyInAnyOrder("kernel", "initramfs", "rootfs");
        assertThat(web.get("artifacts").findValuesAsText("sha256"))
                .contains(TemplateFixture.sha256(TemplateFixture.files("first").get("rootfs")));
        String id = web.get("id").asText();
        JsonNode shown = admin.get("/v1/instances/" + id).json();
        assertThat(shown.get("template").asText()).isEqualTo("web-worker");
        assertThat(shown.get("template_revision").asText()).isEqualTo(first);
        assertThat(shown.get("booted_revision").isNull()).isTrue();

        // The node reports what it booted; the instance shows it.
        long g = desired(node, "node-a").get("generation").asLong();
        assertThat(node.post("/v1/nodes/node-a/observed", report(g, observed(id, "running", "template", "web-worker",
                "template_revision", first))).status()).isEqualTo(204);
        assertThat(admin.get("/v1/instances/" + id).json().get("booted_revision").asText()).isEqualTo(first);

        // A new build becoming current does not change what a placed instance is told to boot;
        // a new instance of the pool boots the new one.
        String second = TemplateFixture.build(admin, "web-worker", "second");
        assertThat(webEntry(node).get("template_revision").asText()).isEqualTo(first);
        admin.patch("/v1/tenants/acme/pools/web", Map.of("running", 2), Map.of());
        List<String> revisions = new ArrayList<>();
        desired(node, "node-a").get("instances").forEach(i -> {
            if (i.get("pool").asText().equals("web")) {
                revisions.add(i.get("template_revision").asText());
            }
        });
        assertThat(revisions).containsExactlyInAnyOrder(first, second);
    }

    /** Acts as node-a's agent once: confirms destroys, reports the rest running (or failed, for {@code failing}). */
    @SuppressWarnings("unchecked")
    private void agentPass(ApiClient node, java.util.Set<String> failing) {
        JsonNode d = desired(node, "node-a");
        List<Map<String, Object>> items = new ArrayList<>();
        for (JsonNode i : d.get("instances")) {
            String id = i.get("id").asText();
            String state = i.get("desired_state").asText().equals("destroyed") ? "destroyed"
                    : failing.contains(id) ? "failed" : "running";
            items.add(observed(id, state, "template", i.path("template").asText(), "template_revision",
                    i.path("template_revision").asText()));
        }
        assertThat(node.post("/v1/nodes/node-a/observed", Map.of("desired_generation", d.get("generation").asLong(),
                "instances", items)).status()).isEqualTo(204);
    }

    private JsonNode rollout() {
        Response r = admin.get("/v1/tenants/acme/pools/web/rollout");
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return r.json();
    }

    /** Revisions of the pool's live instances, as pinned. */
    private List<String> liveRevisions() {
        List<String> out = new ArrayList<>();
        for (JsonNode i : instances("acme")) {
            if (!i.get("desired_state").asText().equals("destroyed")) {
                out.add(i.path("template_revision").asText());
            }
        }
        return out;
    }

    @Test
    void aNewRevisionRollsOneAtATimeAFailedReplacementHaltsAndRollbackReturns() {
        ApiClient node = register("node-a", 16, 65536);
        TemplateFixture.create(admin, "web");
        String v1 = TemplateFixture.build(admin, "web-worker", "v1");
        tenantWithPool("acme", "web", 3, 1, "template", "web-worker");
        agentPass(node, java.util.Set.of());
        coordinator.runHousekeeping();
        assertThat(rollout().get("status").asText()).isEqualTo("done");
        assertThat(liveRevisions()).containsOnly(v1).hasSize(3);

        // A new build becomes current: one replacement at a time, each must be healthy before the next.
        String v2 = TemplateFixture.build(admin, "web-worker", "v2");
        coordinator.runHousekeeping();
        JsonNode r = rollout();
        assertThat(r.get("status").asText()).isEqualTo("rolling");
        assertThat(r.get("target_revision").asText()).isEqualTo(v2);
        assertThat(r.get("previous_revision").asText()).isEqualTo(v1);
        assertThat(r.get("replaced").asInt()).isEqualTo(1);
        assertThat(r.get("pending")).hasSize(1);
        assertThat(r.get("old").asInt()).isEqualTo(2);
        coordinator.runHousekeeping();
        assertThat(rollout().get("replaced").asInt()).as("the pending replacement blocks the next").isEqualTo(1);
        for (int round = 0; round < 10 && !rollout().get("status").asText().equals("done"); round++) {
            agentPass(node, java.util.Set.of());
            coordinator.runHousekeeping();
            assertThat(rollout().get("pending").size()).isLessThanOrEqualTo(1);
        }
        assertThat(rollout().get("status").asText()).isEqualTo("done");
        assertThat(rollout().get("replaced").asInt()).isEqualTo(3);
        assertThat(liveRevisions()).containsOnly(v2).hasSize(3);

        // A revision whose replacement fails its health check halts the rollout by itself.
        String v3 = TemplateFixture.build(admin, "web-worker", "v3");
        coordinator.runHousekeeping();
        String replacement = rollout().get("pending").get(0).asText();
        agentPass(node, java.util.Set.of(replacement));
        coordinator.runHousekeeping();
        JsonNode halted = rollout();
        assertThat(halted.get("status").asText()).isEqualTo("halted");
        assertThat(halted.get("reason").asText()).contains(replacement).contains("failed").contains("rollback");
        coordinator.runHousekeeping();
        agentPass(node, java.util.Set.of(replacement));
        coordinator.runHousekeeping();
        assertThat(rollout().get("replaced").asInt()).as("halted: nothing more is replaced").isEqualTo(1);
        assertThat(liveRevisions()).containsExactlyInAnyOrder(v2, v2, v3);

        // Rollback: back to the revision the rollout started from, the failed replacement first.
        Response back = admin.post("/v1/tenants/acme/pools/web/rollback", Map.of());
        assertThat(back.status()).as(back.toString()).isEqualTo(200);
        assertThat(back.json().get("target_revision").asText()).isEqualTo(v2);
        assertThat(back.json().get("follows_current").asBoolean()).isFalse();
        for (int round = 0; round < 10 && !rollout().get("status").asText().equals("done"); round++) {
            agentPass(node, java.util.Set.of(replacement));
            coordinator.runHousekeeping();
        }
        assertThat(rollout().get("status").asText()).isEqualTo("done");
        assertThat(liveRevisions()).containsOnly(v2).hasSize(3);
        assertThat(instances("acme").stream().map(i -> i.get("id").asText())).doesNotContain(replacement);

        // set-template pins a revision and takes max_unavailable: two replacements at once.
        Response pinned = admin.send("PUT", "/v1/tenants/acme/pools/web/rollout", Map.of("revision", v1,
                "max_unavailable", 2), Map.of());
        assertThat(pinned.status()).as(pinned.toString()).isEqualTo(200);
        JsonNode two = rollout();
        assertThat(two.get("pinned_revision").asText()).isEqualTo(v1);
        assertThat(two.get("pending")).hasSize(2);
        assertProblem(admin.send("PUT", "/v1/tenants/acme/pools/web/rollout", Map.of("revision", "f".repeat(64)),
                Map.of()), 422, "has no revision");
        assertThat(admin.get("/v1/tenants/acme/audit?limit=1000").body()).contains("pool.rollback")
                .contains("pool.set-template").contains("rollout");
    }

    private JsonNode webEntry(ApiClient node) {
        for (JsonNode i : desired(node, "node-a").get("instances")) {
            if (i.get("pool").asText().equals("web")) {
                return i;
            }
        }
        throw new AssertionError("no instance of pool web in the desired state");
    }

    @Test
    void aNodeClaimingMoreCapacityThanApprovedGetsOnlyTheApprovedUntilAnAdminApproves() {
        ApiClient node = register("node-a", 4, 8192);
        // A re-registration (a stolen token, say) claims a far bigger host.
        Response big = node.post("/v1/nodes/register", registration("node-a", 64, 1 << 20));
        assertThat(big.status()).isEqualTo(200);
        JsonNode shown = admin.get("/v1/nodes/node-a").json();
        assertThat(shown.get("capacity").get("vcpus").asInt()).isEqualTo(4);
        assertThat(shown.get("pending_claim").get("vcpus").asInt()).isEqualTo(64);
        tenantWithPool("acme", "big", 1, 8);
        assertThat(instances("acme").getFirst().get("pending_reason").asText()).contains("no node can fit");
        assertProblem(node.post("/v1/nodes/node-a/approve-capacity", Map.of()), 403, "admin");
        Response approved = admin.post("/v1/nodes/node-a/approve-capacity", Map.of());
        assertThat(approved.status()).as(approved.toString()).isEqualTo(200);
        assertThat(approved.json().get("capacity").get("vcpus").asInt()).isEqualTo(64);
        assertThat(approved.json().get("pending_claim").isNull()).isTrue();
        assertThat(instances("acme").getFirst().get("node").asText()).isEqualTo("node-a");
        assertProblem(admin.post("/v1/nodes/node-a/approve-capacity", Map.of()), 409, "no capacity claim waiting");
        // A smaller claim applies at once.
        assertThat(node.post("/v1/nodes/register", registration("node-a", 16, 8192)).status()).isEqualTo(200);
        assertThat(admin.get("/v1/nodes/node-a").json().get("capacity").get("vcpus").asInt()).isEqualTo(16);
        assertThat(admin.get("/v1/nodes/node-a").json().get("pending_claim").isNull()).isTrue();
    }

    @Test
    void theAuditTrailKeepsEntriesForItsRetentionAgeAndAtMostItsRowCount() throws Exception {
        assertThat(admin.post("/v1/tenants", Map.of("id", "old")).status()).isEqualTo(201);
        assertThat(admin.get("/v1/tenants/old/audit").json().get("entries")).hasSize(1);
        clock.advance(Duration.ofDays(91));
        assertThat(admin.post("/v1/tenants", Map.of("id", "new")).status()).isEqualTo(201);
        coordinator.runHousekeeping();
        assertThat(admin.get("/v1/tenants/old/audit").json().get("entries")).as("older than 90 days").isEmpty();
        assertThat(admin.get("/v1/tenants/new/audit").json().get("entries")).hasSize(1);

        try (TestDatabase small = kind().create();
             Coordinator c = Coordinator.start(CoordinatorConfig.defaults(small.dataDir()).withDatabase(small.url())
                     .withListen("127.0.0.1", 0).withClock(clock).withHousekeepingInterval(Duration.ofHours(1))
                     .withAuditRetention(new CoordinatorConfig.AuditRetention(Duration.ofDays(1), 3)))) {
            ApiClient api = new ApiClient(c.port(), Files.readString(c.adminTokenFile()).strip());
            for (String t : List.of("a", "b", "c", "d", "e")) {
                assertThat(api.post("/v1/tenants", Map.of("id", t)).status()).isEqualTo(201);
            }
            c.runHousekeeping();
            List<String> left = new ArrayList<>();
            for (String t : List.of("a", "b", "c", "d", "e")) {
                api.get("/v1/tenants/" + t + "/audit").json().get("entries").forEach(e -> left.add(t));
            }
            assertThat(left).as("the newest three").containsExactly("c", "d", "e");
        }
    }

    @Test
    void orphansANodeReportsAreShownUntilItReportsThemGoneAndAReportWithoutThemKeepsThem() {
        ApiClient node = register("node-a", 8, 16384);
        Map<String, Object> orphan = Map.of("instance_id", "i-0123456789ab", "path",
                "/var/lib/mvm/orphans/i-0123456789ab-20261203T100000.000Z", "bytes", 67108864,
                "reason", "not in the desired state of generation 4", "at", "2026-12-03T10:00:00Z");
        assertThat(node.post("/v1/nodes/node-a/observed", Map.of("desired_generation", 1, "instances", List.of(),
                "orphans", List.of(orphan))).status()).isEqualTo(204);
        JsonNode shown = admin.get("/v1/nodes/node-a").json().get("orphans");
        assertThat(shown).hasSize(1);
        assertThat(shown.get(0).get("path").asText()).endsWith("i-0123456789ab-20261203T100000.000Z");
        assertThat(shown.get(0).get("bytes").asLong()).isEqualTo(67108864);
        // A report that does not say (an older agent, or listing failed) keeps what was known.
        assertThat(node.post("/v1/nodes/node-a/observed", report(1)).status()).isEqualTo(204);
        assertThat(admin.get("/v1/nodes/node-a").json().get("orphans")).hasSize(1);
        assertThat(node.post("/v1/nodes/node-a/observed", Map.of("desired_generation", 1, "instances", List.of(),
                "orphans", List.of())).status()).isEqualTo(204);
        assertThat(admin.get("/v1/nodes/node-a").json().get("orphans")).isEmpty();
        assertProblem(node.post("/v1/nodes/node-a/observed", Map.of("desired_generation", 1, "instances", List.of(),
                "orphans", List.of(Map.of("path", "/x", "at", "2026-12-03T10:00:00Z")))), 400, "orphans.instance_id");
    }

    @Test
    void eventsArePrunedToTheNewestFiveHundredPerInstanceAndReportsMayExceedTheUserBodyLimit() {
        ApiClient node = register("node-a", 8, 16384);
        tenantWithPool("acme", "w", 1, 1);
        String id = instances("acme").getFirst().get("id").asText();
        List<Map<String, Object>> events = new ArrayList<>();
        for (int n = 0; n < 800; n++) {
            events.add(Map.of("time", Instant.parse("2026-11-21T00:00:00Z").plusSeconds(n).toString(), "type",
                    "restarted", "message", "restart " + n));
        }
        assertThat(node.post("/v1/nodes/node-a/observed", report(1, observed(id, "running", "events", events)))
                .status()).isEqualTo(204);
        JsonNode kept = admin.get("/v1/instances/" + id + "/events?limit=1000").json().get("items");
        assertThat(kept).hasSize(500);
        assertThat(kept.get(0).get("message").asText()).isEqualTo("restart 300");
        assertThat(kept.get(499).get("message").asText()).isEqualTo("restart 799");
    }

    // ---- role order across nodes ----

    @Test
    void aTenantsWorkersAreCreatedOnlyOnceItsGatewayRunsWhereverEachWasPlaced() {
        ApiClient a = register("node-a", 8, 16384);
        ApiClient b = register("node-b", 8, 16384);
        tenantWithPool("acme", "gw", 1, 1, "role", "gateway");
        assertThat(admin.post("/v1/tenants/acme/pools", Map.of("name", "w", "profile", "minimal", "flake", ".",
                "vcpus", 1, "memory_mib", 256, "data_disk_mib", 512, "running", 2)).status()).isEqualTo(201);
        JsonNode gateway = instances("acme").stream().filter(i -> i.get("pool").asText().equals("gw")).findFirst()
                .orElseThrow();
        String gw = gateway.get("id").asText();
        String gwNodeId = gateway.get("node").asText();
        ApiClient gwNode = gwNodeId.equals("node-a") ? a : b;

        assertThat(listedOn(a, b)).containsExactly(gw);
        gwNode.post("/v1/nodes/" + gwNodeId + "/observed", report(1, observed(gw, "creating")));
        assertThat(listedOn(a, b)).containsExactly(gw);

        gwNode.post("/v1/nodes/" + gwNodeId + "/observed", report(1, observed(gw, "running")));
        assertThat(listedOn(a, b)).hasSize(3).contains(gw);
    }

    @Test
    void nodesWithAnUnderlayGetTheirTenantsInstancesOnOtherNodesAsPeersAndMovesAdvanceTheirGeneration() {
        ApiClient a = register("node-a", 8, 16384, "underlay_address", "192.168.50.1");
        ApiClient b = register("node-b", 8, 16384, "underlay_address", "192.168.50.2");
        ApiClient c = register("node-c", 8, 16384);
        assertThat(admin.get("/v1/nodes/node-a").json().get("underlay_address").asText()).isEqualTo("192.168.50.1");
        assertThat(admin.get("/v1/nodes/node-c").json().hasNonNull("underlay_address")).isFalse();
        assertProblem(nodeClient("node-d").post("/v1/nodes/register", registration("node-d", 8, 16384,
                "underlay_address", "192.168.50.300")), 400, "octet");
        tenantWithPool("acme", "w", 3, 1);
        tenantWithPool("beta", "w", 1, 1);
        Map<String, String> where = placement("acme");
        assertThat(new java.util.HashSet<>(where.values())).containsExactlyInAnyOrder("node-a", "node-b", "node-c");
        Map<String, String> ips = new TreeMap<>();
        instances("acme").forEach(i -> ips.put(i.get("id").asText(), i.get("ip").asText()));
        String onA = key(where, "node-a");
        String onB = key(where, "node-b");
        String betaNode = instances("beta").getFirst().get("node").asText();

        JsonNode peersOfA = desired(a, "node-a").get("peers");
        // node-c registered no underlay: nobody gets entries pointing at it, and it gets none.
        assertThat(peersOfA).hasSize(1);
        JsonNode peer = peersOfA.get(0);
        assertThat(peer.get("instance").asText()).isEqualTo(onB);
        assertThat(peer.get("tenant").asText()).isEqualTo("acme");
        assertThat(peer.get("node").asText()).isEqualTo("node-b");
        assertThat(peer.get("underlay").asText()).isEqualTo("192.168.50.2");
        assertThat(peer.get("ip").asText()).isEqualTo(ips.get(onB));
        assertThat(peer.get("mac").asText()).isEqualTo(
                io.mvm.core.netpolicy.MacAddress.forInstance(io.mvm.model.InstanceId.of(onB)).value());
        assertThat(peer.get("net_id").asInt()).isEqualTo(admin.get("/v1/tenants/acme").json().get("net_id").asInt());
        assertThat(desired(b, "node-b").get("peers")).extracting(p -> p.get("instance").asText()).containsExactly(onA);
        assertThat(desired(c, "node-c").get("peers")).isEmpty();
        // Tenant beta runs on one node only: nobody peers for it.
        for (var n : List.of(Map.entry(a, "node-a"), Map.entry(b, "node-b"))) {
            assertThat(desired(n.getKey(), n.getValue()).get("peers")).extracting(p -> p.get("tenant").asText())
                    .doesNotContain("beta");
        }
        assertThat(betaNode).isNotEmpty();

        // A peer's underlay address changes: the other node's generation moves and its peer follows.
        long before = desired(a, "node-a").get("generation").asLong();
        register("node-b", 8, 16384, "underlay_address", "192.168.50.22");
        JsonNode after = desired(a, "node-a");
        assertThat(after.get("generation").asLong()).isGreaterThan(before);
        assertThat(after.get("peers").get(0).get("underlay").asText()).isEqualTo("192.168.50.22");
    }

    private static String key(Map<String, String> map, String value) {
        return map.entrySet().stream().filter(e -> e.getValue().equals(value)).map(Map.Entry::getKey).findFirst()
                .orElseThrow();
    }

    /** Every instance id in the two nodes' desired lists. */
    private List<String> listedOn(ApiClient a, ApiClient b) {
        List<String> ids = new java.util.ArrayList<>();
        desired(a, "node-a").get("instances").forEach(i -> ids.add(i.get("id").asText()));
        desired(b, "node-b").get("instances").forEach(i -> ids.add(i.get("id").asText()));
        return ids;
    }

    // ---- lost nodes ----

    @Test
    void aSilentNodeIsLostItsInstancesUnknownAndAHeartbeatBringsItBack() {
        ApiClient node = register("node-a", 8, 16384);
        tenantWithPool("acme", "w", 2, 1);
        String id = instances("acme").getFirst().get("id").asText();
        node.post("/v1/nodes/node-a/observed", report(1, observed(id, "running")));

        clock.advance(Duration.ofSeconds(29));
        coordinator.runHousekeeping();
        assertThat(admin.get("/v1/nodes/node-a").json().get("status").asText()).isEqualTo("ready");

        clock.advance(Duration.ofSeconds(2));
        coordinator.runHousekeeping();
        assertThat(admin.get("/v1/nodes/node-a").json().get("status").asText()).isEqualTo("lost");
        assertThat(admin.get("/metrics").body()).contains("mvm_nodes_lost 1.0").contains("mvm_nodes_ready 0.0")
                .contains("mvm_instances_unplaced 2.0");
        List<JsonNode> all = instances("acme");
        assertThat(all).hasSize(2).allSatisfy(i -> {
            assertThat(i.get("state").asText()).isEqualTo("unknown");
            assertThat(i.get("node").asText()).isEqualTo("node-a");
            assertThat(i.get("pending_reason").asText()).contains("node-a is lost");
        });
        clock.advance(Duration.ofSeconds(30));
        coordinator.runHousekeeping();
        // Past the grace period with no other node: unplaceable, the placement's reason says why.
        assertThat(instances("acme")).allSatisfy(i -> {
            assertThat(i.get("node").asText()).isEqualTo("node-a");
            assertThat(i.get("pending_reason").asText()).contains("node-a is lost").doesNotContain("stay there until");
        });

        assertThat(node.post("/v1/nodes/node-a/heartbeat", Map.of()).status()).isEqualTo(204);
        assertThat(admin.get("/v1/nodes/node-a").json().get("status").asText()).isEqualTo("ready");
        assertThat(instances("acme")).allSatisfy(i -> assertThat(i.get("pending_reason").isNull()).isTrue());
    }

    @Test
    void destroyingOnALostNodeNeedsNoConfirmation() {
        ApiClient node = register("node-a", 8, 16384);
        tenantWithPool("acme", "w", 2, 1);
        clock.advance(Duration.ofSeconds(31));
        coordinator.runHousekeeping();
        assertThat(admin.get("/v1/nodes/node-a").json().get("status").asText()).isEqualTo("lost");
        assertThat(admin.delete("/v1/tenants/acme/pools/w", Map.of()).status()).isEqualTo(204);
        assertThat(admin.get("/v1/tenants/acme/instances").json().get("items")).isEmpty();
        assertThat(node.post("/v1/nodes/node-a/heartbeat", Map.of()).status()).isEqualTo(204);
        assertThat(desired(node, "node-a").get("instances")).isEmpty();
    }

    @Test
    void aLostNodeKeepsItsInstancesForAGracePeriodThenTheyMoveToAReadyNodeWithRoom() {
        ApiClient a = register("node-a", 8, 16384);
        tenantWithPool("acme", "w", 2, 1, "data_disk_mib", 0);
        clock.advance(Duration.ofSeconds(20));
        ApiClient b = register("node-b", 8, 16384);
        clock.advance(Duration.ofSeconds(15));
        coordinator.runHousekeeping();
        // Silent 35 s: lost, but perhaps only cut off for a moment, so nothing moves yet (a second
        // copy with the same address would boot while the first may still run) and nothing new lands there.
        assertThat(admin.get("/v1/nodes/node-a").json().get("status").asText()).isEqualTo("lost");
        assertThat(instances("acme")).allSatisfy(i -> {
            assertThat(i.get("node").asText()).isEqualTo("node-a");
            assertThat(i.get("state").asText()).isEqualTo("unknown");
            assertThat(i.get("pending_reason").asText()).contains("node node-a is lost; its instances stay there until");
        });
        assertThat(desired(b, "node-b").get("instances")).isEmpty();

        assertThat(b.post("/v1/nodes/node-b/heartbeat", Map.of()).status()).isEqualTo(204);
        clock.advance(Duration.ofSeconds(26));
        coordinator.runHousekeeping();
        // Silent 61 s, more than twice the node timeout: now they move.
        assertThat(instances("acme")).allSatisfy(i -> {
            assertThat(i.get("node").asText()).isEqualTo("node-b");
            assertThat(i.get("state").asText()).isEqualTo("pending");
            assertThat(i.get("pending_reason").isNull()).isTrue();
        });
        assertThat(desired(a, "node-a").get("instances")).isEmpty();
        assertThat(desired(b, "node-b").get("instances")).hasSize(2);
    }

    // ---- outages destroy nothing ----

    @Test
    void aCoordinatorRestartAfterALongOutageMarksNoLiveNodeLostAndMovesNothing() throws Exception {
        ApiClient a = register("node-a", 8, 16384);
        ApiClient b = register("node-b", 8, 16384);
        // No data disk and "recreate": only liveness keeps these instances where they are.
        tenantWithPool("acme", "w", 4, 1, "data_disk_mib", 0, "on_node_lost", "recreate");
        Map<String, String> before = placement("acme");
        assertThat(new java.util.HashSet<>(before.values())).containsExactlyInAnyOrder("node-a", "node-b");

        // The coordinator is down for 100 s; the agents' heartbeats go nowhere.
        coordinator.stop();
        clock.advance(Duration.ofSeconds(100));
        restartCoordinator();
        a = reconnect(a);
        b = reconnect(b);
        coordinator.runHousekeeping();
        assertThat(nodeStatus("node-a")).isEqualTo("ready");
        assertThat(nodeStatus("node-b")).isEqualTo("ready");

        // Their heartbeats come back at different times, the second one 27 s after the restart.
        clock.advance(Duration.ofSeconds(3));
        assertThat(a.post("/v1/nodes/node-a/heartbeat", Map.of()).status()).isEqualTo(204);
        coordinator.runHousekeeping();
        clock.advance(Duration.ofSeconds(24));
        coordinator.runHousekeeping();
        assertThat(b.post("/v1/nodes/node-b/heartbeat", Map.of()).status()).isEqualTo(204);
        clock.advance(Duration.ofSeconds(20));
        assertThat(a.post("/v1/nodes/node-a/heartbeat", Map.of()).status()).isEqualTo(204);
        coordinator.runHousekeeping();
        assertThat(nodeStatus("node-a")).isEqualTo("ready");
        assertThat(nodeStatus("node-b")).isEqualTo("ready");
        assertThat(placement("acme")).isEqualTo(before);
        assertThat(instances("acme")).allSatisfy(i -> assertThat(i.get("pending_reason").isNull()).isTrue());

        // A node that really stays silent is still found out, counted from the restart: lost
        // 30 s after its last heartbeat, its instances moved 60 s after it.
        clock.advance(Duration.ofSeconds(11)); // node-b silent 31 s
        assertThat(a.post("/v1/nodes/node-a/heartbeat", Map.of()).status()).isEqualTo(204);
        coordinator.runHousekeeping();
        assertThat(nodeStatus("node-b")).isEqualTo("lost");
        assertThat(placement("acme")).isEqualTo(before);
        clock.advance(Duration.ofSeconds(30));
        assertThat(a.post("/v1/nodes/node-a/heartbeat", Map.of()).status()).isEqualTo(204);
        coordinator.runHousekeeping();
        assertThat(placement("acme").values()).containsOnly("node-a");
    }

    @Test
    void aNodeSilentSinceBeforeTheRestartIsLostOnlyATimeoutAfterTheRestart() throws Exception {
        register("node-a", 8, 16384);
        ApiClient b = register("node-b", 8, 16384);
        tenantWithPool("acme", "w", 2, 1, "data_disk_mib", 0);
        coordinator.stop();
        clock.advance(Duration.ofMinutes(10));
        restartCoordinator();
        b = reconnect(b);
        clock.advance(Duration.ofSeconds(29));
        assertThat(b.post("/v1/nodes/node-b/heartbeat", Map.of()).status()).isEqualTo(204);
        coordinator.runHousekeeping();
        assertThat(nodeStatus("node-a")).isEqualTo("ready");
        clock.advance(Duration.ofSeconds(2));
        assertThat(b.post("/v1/nodes/node-b/heartbeat", Map.of()).status()).isEqualTo(204);
        coordinator.runHousekeeping();
        assertThat(nodeStatus("node-a")).isEqualTo("lost");
        // Its grace period, too, runs from the restart: nothing moves before 60 s.
        assertThat(instances("acme")).filteredOn(i -> i.get("pending_reason").isTextual())
                .allSatisfy(i -> assertThat(i.get("pending_reason").asText()).contains("stay there until"));
    }

    @Test
    void aNewLeaderCountsNodeSilenceFromTheStartOfItsLeadership() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(kind() == TestDatabase.Kind.POSTGRESQL,
                "a SQLite file serves one coordinator");
        register("node-a", 8, 16384);
        ApiClient b = register("node-b", 8, 16384);
        // A follower, started now on the same clock: while it follows it judges nobody.
        Coordinator follower = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0).withClock(clock)
                .withNodeTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(5))
                .withHousekeepingInterval(Duration.ofHours(1)));
        try {
            clock.advance(Duration.ofSeconds(20));
            coordinator.stop(); // the leader goes; node-a has been silent for 20 s
            coordinator = null;
            admin = admin.withPort(follower.port());
            b = b.withPort(follower.port());
            follower.runHousekeeping();
            assertThat(follower.election().isLeader()).isTrue();

            // 35 s after node-a's last heartbeat, but 15 s into this leadership: still ready.
            clock.advance(Duration.ofSeconds(15));
            assertThat(b.post("/v1/nodes/node-b/heartbeat", Map.of()).status()).isEqualTo(204);
            follower.runHousekeeping();
            assertThat(nodeStatus("node-a")).isEqualTo("ready");
            // A node timeout after the leadership began: lost.
            clock.advance(Duration.ofSeconds(16));
            assertThat(b.post("/v1/nodes/node-b/heartbeat", Map.of()).status()).isEqualTo(204);
            follower.runHousekeeping();
            assertThat(nodeStatus("node-a")).isEqualTo("lost");
            assertThat(nodeStatus("node-b")).isEqualTo("ready");
        } finally {
            follower.stop();
        }
    }

    @Test
    void whenMostNodesFallSilentAtOnceTheCoordinatorDeclaresNoneLostAndMovesNothing() {
        ApiClient a = register("node-a", 8, 16384);
        ApiClient b = register("node-b", 8, 16384);
        ApiClient c = register("node-c", 8, 16384);
        tenantWithPool("acme", "w", 3, 1, "data_disk_mib", 0);
        Map<String, String> before = placement("acme");
        // Cut off from all three (the coordinator's own network, say) for five minutes.
        for (int i = 0; i < 10; i++) {
            clock.advance(Duration.ofSeconds(30));
            coordinator.runHousekeeping();
        }
        assertThat(List.of(nodeStatus("node-a"), nodeStatus("node-b"), nodeStatus("node-c"))).containsOnly("ready");
        // They come back one by one; none is declared lost or loses its instances meanwhile.
        assertThat(a.post("/v1/nodes/node-a/heartbeat", Map.of()).status()).isEqualTo(204);
        coordinator.runHousekeeping();
        clock.advance(Duration.ofSeconds(20));
        assertThat(b.post("/v1/nodes/node-b/heartbeat", Map.of()).status()).isEqualTo(204);
        coordinator.runHousekeeping();
        clock.advance(Duration.ofSeconds(5));
        assertThat(c.post("/v1/nodes/node-c/heartbeat", Map.of()).status()).isEqualTo(204);
        coordinator.runHousekeeping();
        assertThat(List.of(nodeStatus("node-a"), nodeStatus("node-b"), nodeStatus("node-c"))).containsOnly("ready");
        assertThat(placement("acme")).isEqualTo(before);
    }

    @Test
    void atMostOneNodeOfASmallFleetIsDeclaredLostPerTimeout() {
        ApiClient a = register("node-a", 8, 16384);
        ApiClient b = register("node-b", 8, 16384);
        register("node-c", 8, 16384);
        register("node-d", 8, 16384);
        // c and d fall silent (two of four: no disruption).
        for (int i = 0; i < 4; i++) {
            clock.advance(Duration.ofSeconds(10));
            a.post("/v1/nodes/node-a/heartbeat", Map.of());
            b.post("/v1/nodes/node-b/heartbeat", Map.of());
            coordinator.runHousekeeping();
        }
        assertThat(List.of(nodeStatus("node-c"), nodeStatus("node-d"))).containsExactlyInAnyOrder("lost", "ready");
        for (int i = 0; i < 3; i++) {
            clock.advance(Duration.ofSeconds(10));
            a.post("/v1/nodes/node-a/heartbeat", Map.of());
            b.post("/v1/nodes/node-b/heartbeat", Map.of());
            coordinator.runHousekeeping();
        }
        assertThat(List.of(nodeStatus("node-c"), nodeStatus("node-d"))).containsOnly("lost");
    }

    @Test
    void instancesWithDataWaitForTheirLostNodeUntilEvacuatedOrThePoolSaysRecreate() {
        ApiClient a = register("node-a", 8, 16384);
        tenantWithPool("acme", "data", 2, 1, "data_disk_mib", 512);
        ApiClient b = register("node-b", 8, 16384);
        assertThat(admin.get("/v1/tenants/acme/pools/data").json().get("on_node_lost").asText()).isEqualTo("auto");
        assertThat(placement("acme").values()).containsOnly("node-a");
        String first = instances("acme").get(0).get("id").asText();
        String second = instances("acme").get(1).get("id").asText();
        assertProblem(admin.post("/v1/instances/" + first + "/evacuate", Map.of()), 409, "not lost");

        for (int i = 0; i < 10; i++) { // node-a silent for 100 s, far past its grace period
            clock.advance(Duration.ofSeconds(10));
            b.post("/v1/nodes/node-b/heartbeat", Map.of());
            coordinator.runHousekeeping();
        }
        assertThat(nodeStatus("node-a")).isEqualTo("lost");
        assertThat(placement("acme").values()).containsOnly("node-a");
        assertThat(instances("acme")).allSatisfy(i -> assertThat(i.get("pending_reason").asText())
                .contains("waits for it").contains("mvm instance evacuate"));
        assertThat(desired(b, "node-b").get("instances")).isEmpty();

        // The operator gives up on one instance's data: it is recreated on node-b.
        Response evacuated = admin.post("/v1/instances/" + first + "/evacuate", Map.of());
        assertThat(evacuated.status()).as(evacuated.toString()).isEqualTo(200);
        assertThat(evacuated.json().get("node").asText()).isEqualTo("node-b");
        assertThat(placement("acme")).containsEntry(first, "node-b").containsEntry(second, "node-a");

        // Changing the pool's rule to recreate moves the rest.
        Response patched = admin.patch("/v1/tenants/acme/pools/data", Map.of("on_node_lost", "recreate"), Map.of());
        assertThat(patched.status()).as(patched.toString()).isEqualTo(200);
        assertThat(patched.json().get("on_node_lost").asText()).isEqualTo("recreate");
        assertThat(placement("acme").values()).containsOnly("node-b");
        assertProblem(admin.patch("/v1/tenants/acme/pools/data", Map.of("on_node_lost", "sometimes"), Map.of()), 400,
                "on_node_lost must be one of auto, wait, recreate");
    }

    @Test
    void aSleepingInstanceWaitsForItsLostNodeEvenWithoutADataDisk() {
        register("node-a", 8, 16384);
        tenantWithPool("acme", "s", 0, 1, "data_disk_mib", 0, "sleeping", 1, "running", 1);
        ApiClient b = register("node-b", 8, 16384);
        for (int i = 0; i < 10; i++) {
            clock.advance(Duration.ofSeconds(10));
            b.post("/v1/nodes/node-b/heartbeat", Map.of());
            coordinator.runHousekeeping();
        }
        Map<String, String> where = new TreeMap<>();
        instances("acme").forEach(i -> where.put(i.get("desired_state").asText(), i.get("node").asText()));
        assertThat(where).isEqualTo(Map.of("sleeping", "node-a", "running", "node-b"));
    }

    // ---- scheduling ----

    @Test
    void aPoolOfFourSpreadsTwoAndTwoAndWhatFitsNowhereStaysPendingWithAReason() {
        register("node-a", 4, 8192);
        register("node-b", 4, 8192);
        tenantWithPool("acme", "w", 4, 1);
        Map<String, Integer> perNode = new HashMap<>();
        instances("acme").forEach(i -> perNode.merge(i.get("node").asText(), 1, Integer::sum));
        assertThat(perNode).isEqualTo(Map.of("node-a", 2, "node-b", 2));

        tenantWithPool("big", "huge", 1, 6);
        JsonNode huge = instances("big").getFirst();
        assertThat(huge.get("state").asText()).isEqualTo("pending");
        assertThat(huge.get("node").isNull()).isTrue();
        assertThat(huge.get("pending_reason").asText()).contains("no node can fit").contains("node-a has")
                .contains("vCPUs");

        register("node-c", 8, 16384);
        JsonNode placed = instances("big").getFirst();
        assertThat(placed.get("node").asText()).isEqualTo("node-c");
        assertThat(placed.get("pending_reason").isNull()).isTrue();
        assertThat(admin.get("/v1/nodes/node-c").json().get("allocated").get("vcpus").asInt()).isEqualTo(6);
    }

    @Test
    void withoutNodesInstancesWaitWithAReason() {
        tenantWithPool("acme", "w", 1, 1);
        assertThat(instances("acme").getFirst().get("pending_reason").asText()).contains("no nodes are registered");
    }

    // ---- exec and logs relay ----

    @Test
    void execAndLogsAreRelayedThroughACoordinatorThatDoesNotLead() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(kind() == TestDatabase.Kind.POSTGRESQL,
                "a SQLite file serves one coordinator");
        try (FakeAgent agent = new FakeAgent();
             Coordinator follower = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                     .withListen("127.0.0.1", 0).withClock(clock).withHousekeepingInterval(Duration.ofHours(1)))) {
            assertThat(coordinator.election().isLeader()).isTrue();
            assertThat(follower.election().isLeader()).isFalse();
            ApiClient node = register("node-a", 8, 16384, "agent_url", agent.url(), "agent_token", AGENT_TOKEN);
            tenantWithPool("acme", "w", 1, 1);
            String id = instances("acme").getFirst().get("id").asText();
            ApiClient viaFollower = admin.withPort(follower.port());
            // The agent reports to the follower; the report lands in the shared database.
            assertThat(node.withPort(follower.port()).post("/v1/nodes/node-a/observed", report(1, observed(id, "running")))
                    .status()).isEqualTo(204);
            Response ran = viaFollower.post("/v1/instances/" + id + "/exec",
                    Map.of("argv", List.of("sh", "-c", "echo hello; exit 3"), "timeout_secs", 20));
            assertThat(ran.status()).as(ran.toString()).isEqualTo(200);
            assertThat(ran.json().get("exit_code").asInt()).isEqualTo(3);
            // Every coordinator of the cluster derives the same relay token from the shared CA.
            String relayToken = coordinator.controlChannel().relayToken(io.mvm.model.NodeId.of("node-a"));
            assertThat(follower.controlChannel().relayToken(io.mvm.model.NodeId.of("node-a"))).isEqualTo(relayToken);
            assertThat(agent.received().getLast().authorization()).isEqualTo("Bearer " + relayToken);
            Response logs = viaFollower.get("/v1/instances/" + id + "/logs?lines=5");
            assertThat(logs.status()).isEqualTo(200);
            assertThat(logs.body()).isEqualTo("line 1\nline 2\n");
        }
    }

    @Test
    void execAndLogsAreRelayedToTheNodesAgentWithItsToken() {
        try (FakeAgent agent = new FakeAgent()) {
            ApiClient node = register("node-a", 8, 16384, "agent_url", agent.url(), "agent_token", AGENT_TOKEN);
            tenantWithPool("acme", "w", 1, 1);
            String id = instances("acme").getFirst().get("id").asText();
            Map<String, Object> exec = Map.of("argv", List.of("sh", "-c", "echo hello; exit 3"), "timeout_secs", 20);

            assertProblem(admin.post("/v1/instances/" + id + "/exec", exec), 409, "not running");
            node.post("/v1/nodes/node-a/observed", report(1, observed(id, "running")));

            Response ran = admin.post("/v1/instances/" + id + "/exec", exec);
            assertThat(ran.status()).as(ran.toString()).isEqualTo(200);
            assertThat(ran.json().get("exit_code").asInt()).isEqualTo(3);
            assertThat(ran.json().get("stdout_b64").asText()).isEqualTo("aGVsbG8K");
            FakeAgent.Received got = agent.received().getLast();
            assertThat(got.method()).isEqualTo("POST");
            assertThat(got.path()).isEqualTo("/v1/instances/" + id + "/exec");
            // The relay token is the coordinator's, derived per node (not what the agent once sent).
            assertThat(got.authorization()).isEqualTo("Bearer "
                    + coordinator.controlChannel().relayToken(io.mvm.model.NodeId.of("node-a")));
            assertThat(got.body()).contains("\"argv\":[\"sh\",\"-c\",\"echo hello; exit 3\"]")
                    .contains("\"timeout_secs\":20");

            Response logs = admin.get("/v1/instances/" + id + "/logs?lines=5");
            assertThat(logs.status()).isEqualTo(200);
            assertThat(logs.header("content-type")).startsWith("text/plain");
            assertThat(logs.body()).isEqualTo("line 1\nline 2\n");
            assertThat(agent.received().getLast().path()).isEqualTo("/v1/instances/" + id + "/logs?lines=5");

            // Reaching into a guest is audited in the tenant's trail: the program, never its arguments.
            var trail = admin.get("/v1/tenants/acme/audit?limit=1000").json().get("entries");
            var accesses = new java.util.ArrayList<String>();
            trail.forEach(e -> {
                if (List.of("instance.exec", "instance.logs").contains(e.get("action").asText())) {
                    accesses.add(e.get("action").asText() + " " + e.get("resource").asText() + " " + e.get("outcome").asText());
                }
            });
            assertThat(accesses).containsExactly(
                    "instance.exec instance/" + id + " sh refused: instance '" + id + "' is pending, not running; wait for it to start",
                    "instance.exec instance/" + id + " sh ok",
                    "instance.logs instance/" + id + " ok");
            assertThat(trail.toString()).doesNotContain("echo hello");

            agent.replyToExec(new FakeAgent.Reply(503, "application/problem+json",
                    "{\"status\":503,\"detail\":\"the guest agent does not answer\"}"));
            assertProblem(admin.post("/v1/instances/" + id + "/exec", exec), 503, "the guest agent does not answer");
            agent.replyToExec(new FakeAgent.Reply(409, "application/problem+json",
                    "{\"status\":409,\"detail\":\"instance is paused\"}"));
            assertProblem(admin.post("/v1/instances/" + id + "/exec", exec), 409, "instance is paused");
            agent.replyToExec(new FakeAgent.Reply(404, "application/problem+json", "{\"status\":404,\"detail\":\"no such vm\"}"));
            assertProblem(admin.post("/v1/instances/" + id + "/exec", exec), 409, "no such vm");

            assertProblem(admin.post("/v1/instances/" + id + "/exec", Map.of("argv", List.of())), 400, "argv");
            assertProblem(admin.post("/v1/instances/" + id + "/exec", "{\"argv\": [\"ls\", null]}"), 400, "null");
            assertProblem(admin.post("/v1/instances/" + id + "/exec", "{\"argv\": [\"ls\"], \"env\": {\"A\": null}}"),
                    400, "null");
            assertProblem(admin.post("/v1/instances/" + id + "/exec", Map.of("argv", List.of("ls"), "timeout_secs", 0)),
                    400, "timeout_secs");
            assertProblem(admin.post("/v1/instances/" + id + "/exec", Map.of("argv", List.of("ls"), "stdin_b64", "%%")),
                    400, "stdin_b64");
            assertProblem(admin.post("/v1/instances/i-000000000000/exec", exec), 404, "not found");
            assertProblem(node.post("/v1/instances/" + id + "/exec", exec), 403, "token may not use it");

            clock.advance(Duration.ofSeconds(31));
            coordinator.runHousekeeping();
            assertProblem(admin.post("/v1/instances/" + id + "/exec", exec), 503, "lost");
            assertProblem(admin.get("/v1/instances/" + id + "/logs"), 503, "lost");
        }
    }

    @Test
    void anUnreachableAgentIs503() throws Exception {
        String url;
        try (FakeAgent gone = new FakeAgent()) {
            url = gone.url();
        }
        ApiClient node = register("node-a", 8, 16384, "agent_url", url, "agent_token", AGENT_TOKEN);
        tenantWithPool("acme", "w", 1, 1);
        String id = instances("acme").getFirst().get("id").asText();
        node.post("/v1/nodes/node-a/observed", report(1, observed(id, "running")));
        assertProblem(admin.post("/v1/instances/" + id + "/exec", Map.of("argv", List.of("true"))), 503,
                "does not answer");
        tenantWithPool("other", "w", 0, 1);
    }

    @Test
    void aNodeWithoutRelayEndpointIs503AndAnUnplacedInstanceIs409() {
        tenantWithPool("acme", "w", 1, 1);
        String id = instances("acme").getFirst().get("id").asText();
        assertProblem(admin.post("/v1/instances/" + id + "/exec", Map.of("argv", List.of("true"))), 409,
                "not placed");
        ApiClient node = register("node-a", 8, 16384);
        node.post("/v1/nodes/node-a/observed", report(1, observed(id, "running")));
        assertProblem(admin.post("/v1/instances/" + id + "/exec", Map.of("argv", List.of("true"))), 503,
                "no agent relay endpoint");
    }
}
