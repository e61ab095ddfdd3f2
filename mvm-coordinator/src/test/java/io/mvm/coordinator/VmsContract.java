package io.mvm.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.coordinator.testing.ApiClient;
import io.mvm.coordinator.testing.ApiClient.Response;
import io.mvm.coordinator.testing.ManualClock;
import io.mvm.coordinator.testing.TestDatabase;
import io.mvm.coordinator.vmsfile.DesiredVmsWatcher;
import io.mvm.model.NodeId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The {@code /vms} API and the desired-VMs file against a real coordinator and database (run on
 * SQLite and PostgreSQL). VMs are not booted here: a node token stands in for an agent where a
 * VM must be reported running; real VMs are in the CLI's end-to-end tests.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
abstract class VmsContract {
    private TestDatabase db;
    private Coordinator coordinator;
    private ApiClient admin;
    private final ManualClock clock = new ManualClock(Instant.parse("2026-12-03T12:00:00Z"));

    abstract TestDatabase.Kind kind();

    @BeforeEach
    void start() throws Exception {
        db = kind().create();
        // No warm budget here (the seed's spec asks for a warm pool): warm pools have tests of their own below.
        startCoordinator(new io.mvm.core.vms.WarmPoolPlan.Budget(0, 0));
    }

    private void startCoordinator(io.mvm.core.vms.WarmPoolPlan.Budget warmBudget) throws Exception {
        coordinator = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0).withClock(clock).withHousekeepingInterval(Duration.ofHours(1))
                .withWarmBudget(warmBudget));
        admin = new ApiClient(coordinator.port(), Files.readString(coordinator.adminTokenFile()).strip());
    }

    /** Stands in for an agent's relay: answers claims (or fails them) and remembers what it was asked. */
    static final class FakeRelay implements AutoCloseable {
        final com.sun.net.httpserver.HttpServer server;
        final List<JsonNode> claims = java.util.Collections.synchronizedList(new ArrayList<>());
        volatile int status = 200;

        FakeRelay() throws java.io.IOException {
            server = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 16);
            server.createContext("/v1/instances/", exchange -> {
                try (exchange) {
                    byte[] body = exchange.getRequestBody().readAllBytes();
                    claims.add(new com.fasterxml.jackson.databind.ObjectMapper().readTree(body));
                    byte[] answer = (status == 200
                            ? "{\"already_claimed\":false,\"phase_ms\":{\"resume\":1,\"identity\":3},\"generation\":2}"
                            : "{\"detail\":\"the guest agent does not answer\"}").getBytes();
                    exchange.getResponseHeaders().set("Content-Type", "application/json");
                    exchange.sendResponseHeaders(status, answer.length);
                    exchange.getResponseBody().write(answer);
                }
            });
            server.start();
        }

        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort();
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    private ApiClient registerWithRelay(String node, FakeRelay relay) {
        ApiClient client = admin.withToken(coordinator.issueNodeToken(NodeId.of(node)));
        Response r = client.post("/v1/nodes/register", Map.of("node_id", node,
                "capacity", Map.of("vcpus", 16, "memory_mib", 65536, "disk_mib", 100_000), "accelerator", "tcg",
                "agent_url", relay.url(), "agent_token", "relay-token-of-" + node + "-0123456789abcdef"));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return client;
    }

    /** Reports every instance the node's desired state names as in its desired state (warm → paused). */
    private void reportAsDesired(ApiClient node, String nodeId) {
        JsonNode desired = node.get("/v1/nodes/" + nodeId + "/desired").json();
        List<Map<String, Object>> seen = new ArrayList<>();
        for (JsonNode i : desired.get("instances")) {
            seen.add(Map.of("id", i.get("id").asText(), "state", i.get("desired_state").asText(), "accelerator", "tcg",
                    "events", List.of()));
        }
        Response r = node.post("/v1/nodes/" + nodeId + "/observed", Map.of("desired_generation",
                desired.get("generation").asLong(), "instances", seen));
        assertThat(r.status()).as(r.toString()).isEqualTo(204);
    }

    @Test
    void aWarmVmIsClaimedByOneSubmissionOnlyAndTheWarmPoolRefills() throws Exception {
        coordinator.stop();
        startCoordinator(new io.mvm.core.vms.WarmPoolPlan.Budget(8, 8192));
        try (FakeRelay relay = new FakeRelay()) {
            ApiClient node = registerWithRelay("node-w", relay);
            Map<String, Object> spec = webSpec(); // warm_pool min 2
            Response first = admin.post("/vms", Map.of("job_id", "seed", "spec", spec));
            assertThat(first.status()).as("no warm VM exists yet: a cold boot").isEqualTo(202);
            JsonNode stats = admin.get("/stats").json();
            assertThat(stats.get("summary").get("total_warm").asInt()).isEqualTo(2);
            // The warm VMs stand by for no tenant: no address, no workload, no secrets on the node.
            JsonNode desired = node.get("/v1/nodes/node-w/desired").json();
            List<JsonNode> standing = new ArrayList<>();
            desired.get("instances").forEach(i -> {
                if (i.get("tenant").asText().equals("mvm-standby")) {
                    standing.add(i);
                }
            });
            assertThat(standing).hasSize(2).allSatisfy(i -> {
                assertThat(i.get("desired_state").asText()).isEqualTo("warm");
                assertThat(i.get("ip").asText()).isEmpty();
                assertThat(i.get("net_id").asInt()).isZero();
                assertThat(i.get("cmd")).isEmpty();
            });
            Set<String> warmIds = standing.stream().map(i -> i.get("id").asText()).collect(Collectors.toSet());
            reportAsDesired(node, "node-w");

            // Eight submissions of the same spec race for the two warm VMs.
            var pool = Executors.newFixedThreadPool(8);
            List<Future<Response>> answers = new ArrayList<>();
            for (int n = 0; n < 8; n++) {
                String job = "burst-" + n;
                answers.add(pool.submit(() -> admin.post("/vms", Map.of("job_id", job, "spec", spec))));
            }
            List<Response> claimed = new ArrayList<>();
            int cold = 0;
            for (Future<Response> f : answers) {
                Response r = f.get(60, TimeUnit.SECONDS);
                if (r.status() == 201) {
                    claimed.add(r);
                } else {
                    assertThat(r.status()).as(r.toString()).isEqualTo(202);
                    assertThat(r.header("mvm-tier")).isEqualTo("cold-boot");
                    cold++;
                }
            }
            pool.shutdownNow();
            assertThat(claimed).as("each warm VM serves exactly one submission").hasSize(2);
            assertThat(cold).isEqualTo(6);
            assertThat(claimed.stream().map(r -> r.json().get("vm_id").asText()).collect(Collectors.toSet()))
                    .isEqualTo(warmIds);
            for (Response r : claimed) {
                assertThat(r.header("mvm-tier")).isEqualTo("warm");
                assertThat(r.json().get("claim_phases_ms").get("identity").asLong()).isEqualTo(3);
                String job = r.json().get("job_id").asText();
                JsonNode vm = admin.get("/vms/" + job).json();
                assertThat(vm.get("tenant").asText()).isEqualTo(job);
                assertThat(vm.get("node").asText()).isEqualTo("node-w");
            }
            // The agent was asked once per claim, with the instance as its tenant now owns it.
            assertThat(relay.claims).hasSize(2);
            for (JsonNode c : relay.claims) {
                assertThat(warmIds).contains(c.get("id").asText());
                assertThat(c.get("tenant").asText()).startsWith("burst-");
                assertThat(c.get("ip").asText()).startsWith("10.24");
                assertThat(c.get("net_id").asInt()).isPositive();
                assertThat(c.get("cmd").get(0).asText()).isEqualTo("/app/bin/server");
                assertThat(c.get("desired_state").asText()).isEqualTo("running");
            }
            // Refilled: two new warm VMs, none of them the claimed ones.
            JsonNode after = admin.get("/stats").json();
            assertThat(after.get("summary").get("total_warm").asInt()).isEqualTo(2);
            assertThat(after.get("warm_pool").findValuesAsText("vm_id")).doesNotContainAnyElementsOf(warmIds);
            // Metrics: the warm VMs per spec, and the claims in the latency histogram of the warm tier.
            String metrics = admin.get("/metrics").body();
            String specHash = after.get("warm_pool").get(0).get("spec_hash").asText();
            assertThat(metricSum(metrics, "mvm_warm_vms_by_spec{", "spec_hash=\"" + specHash.substring(0, 24) + "\""))
                    .isEqualTo(2.0);
            assertThat(metricSum(metrics, "mvm_vms_submissions_seconds_count{", "tier=\"warm\"")).isEqualTo(2.0);
            assertThat(metricSum(metrics, "mvm_vms_submissions_seconds_count{", "tier=\"cold-boot\"")).isEqualTo(7.0);
            // Nobody may manage the standby tenant by hand.
            assertProblem(admin.post("/v1/tenants", Map.of("id", "mvm-standby")), 409, "reserved");
            assertThat(admin.delete("/v1/tenants/mvm-standby?force=true", Map.of()).status()).isEqualTo(409);
        }
    }

    @Test
    void aFailedHandOverFallsBackToAColdBootOfTheSameInstance() throws Exception {
        coordinator.stop();
        startCoordinator(new io.mvm.core.vms.WarmPoolPlan.Budget(8, 8192));
        try (FakeRelay relay = new FakeRelay()) {
            ApiClient node = registerWithRelay("node-f", relay);
            Map<String, Object> spec = webSpec();
            spec.put("warm_pool", Map.of("min", 1, "max", 1));
            assertThat(admin.post("/vms", Map.of("job_id", "seed", "spec", spec)).status()).isEqualTo(202);
            reportAsDesired(node, "node-f");
            relay.status = 503;
            Response r = admin.post("/vms", Map.of("job_id", "unlucky", "spec", spec));
            assertThat(r.status()).as(r.toString()).isEqualTo(202);
            assertThat(r.header("mvm-tier")).isEqualTo("cold-boot");
            assertThat(r.json().get("claim_miss").asText()).contains("does not answer");
            assertThat(relay.claims).hasSize(1);
            // The claimed instance stays the job's: its node destroys the VM and boots it afresh.
            assertThat(admin.get("/vms/unlucky").json().get("vm_id").asText())
                    .isEqualTo(relay.claims.getFirst().get("id").asText());
        }
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

    /** The seed's web-api example, as JSON. */
    private static Map<String, Object> webSpec() {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("rootfs", "rootfs-web.ext4");
        spec.put("kernel", "vmlinux");
        spec.put("cmd", List.of("/app/bin/server"));
        spec.put("env", new LinkedHashMap<>(Map.of("MIX_ENV", "prod", "DATABASE_URL", "postgresql://localhost/myapp")));
        spec.put("resources", Map.of("vcpu", 2, "mem_mb", 512));
        spec.put("lifecycle", "service");
        spec.put("warm_pool", Map.of("min", 2, "max", 5));
        return spec;
    }

    private ApiClient register(String node) {
        ApiClient client = admin.withToken(coordinator.issueNodeToken(NodeId.of(node)));
        Response r = client.post("/v1/nodes/register", Map.of("node_id", node,
                "capacity", Map.of("vcpus", 16, "memory_mib", 65536, "disk_mib", 100_000), "accelerator", "tcg"));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return client;
    }

    private static void assertProblem(Response r, int status, String detailPart) {
        assertThat(r.status()).as(r.toString()).isEqualTo(status);
        assertThat(r.header("content-type")).startsWith("application/problem+json");
        assertThat(r.json().get("detail").asText()).contains(detailPart);
    }

    @Test
    void theSeedsCurlExamplesWorkAsWrittenPlusABearerToken() {
        Response generated = admin.post("/vms", Map.of("spec", webSpec()));
        assertThat(generated.status()).as(generated.toString()).isEqualTo(202);
        String id = generated.json().get("job_id").asText();
        assertThat(id).matches("job-[0-9a-f]{10}");
        assertThat(generated.header("location")).isEqualTo("/vms/" + id);
        assertThat(generated.header("mvm-tier")).isEqualTo("cold-boot");
        assertThat(generated.header("mvm-claim-ms")).matches("\\d+");
        assertThat(generated.json().get("tenant").asText()).isEqualTo(id);
        assertThat(admin.get("/v1/tenants/" + id).status()).as("tenant defaults to job_id, created on first use")
                .isEqualTo(200);

        Response named = admin.post("/vms", Map.of("job_id", "web-app-2", "tenant", "prod", "spec", webSpec()));
        assertThat(named.status()).as(named.toString()).isEqualTo(202);
        assertThat(named.json().get("tenant").asText()).isEqualTo("prod");
        JsonNode vm = admin.get("/vms/web-app-2").json();
        assertThat(vm.get("status").asText()).isEqualTo("pending");
        assertThat(vm.get("vm_id").asText()).startsWith("i-");
        assertThat(vm.get("source").asText()).isEqualTo("api");
        assertThat(vm.get("spec").get("cmd")).hasSize(1);

        JsonNode stats = admin.get("/stats").json();
        assertThat(stats.get("summary").get("total_jobs").asInt()).isEqualTo(2);
        assertThat(stats.get("summary").get("total_warm").asInt()).isZero();
        assertThat(stats.get("jobs").findValuesAsText("job_id")).containsExactlyInAnyOrder(id, "web-app-2");
        assertThat(stats.get("warm_pool")).isEmpty();
        assertThat(admin.get("/vms").json().get("items")).hasSize(2);
        // Without a token: 401, as every route.
        assertThat(admin.withToken("nope").post("/vms", Map.of("spec", webSpec())).status()).isEqualTo(401);
    }

    @Test
    void theSameSpecIsANoOpAnotherSpecReplacesTheVmAndKeyOrderDoesNotMatter() {
        assertThat(admin.post("/vms", Map.of("job_id", "api", "spec", webSpec())).status()).isEqualTo(202);
        JsonNode first = admin.get("/vms/api").json();
        long revision = admin.get("/v1/tenants/api/pools/vm-api").json().get("revision").asLong();

        Map<String, Object> reordered = webSpec();
        reordered.put("env", new LinkedHashMap<>(Map.of("DATABASE_URL", "postgresql://localhost/myapp", "MIX_ENV", "prod")));
        reordered.put("warm_pool", Map.of("min", 1, "max", 1)); // not counted in the hash
        Response same = admin.post("/vms", Map.of("job_id", "api", "spec", reordered));
        assertThat(same.status()).as(same.toString()).isEqualTo(200);
        assertThat(same.json().get("outcome").asText()).isEqualTo("updated");
        assertThat(admin.get("/vms/api").json().get("spec").get("warm_pool").get("min").asInt()).isEqualTo(1);
        assertThat(admin.get("/v1/tenants/api/pools/vm-api").json().get("revision").asLong()).isEqualTo(revision);
        Response again = admin.post("/vms", Map.of("job_id", "api", "spec", reordered));
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().get("outcome").asText()).isEqualTo("unchanged");
        assertThat(same.json().get("vm").get("spec_hash").asText()).isEqualTo(first.get("spec_hash").asText());

        Map<String, Object> changed = webSpec();
        changed.put("cmd", List.of("/app/bin/server", "--verbose"));
        Response replaced = admin.post("/vms", Map.of("job_id", "api", "spec", changed));
        assertThat(replaced.status()).as(replaced.toString()).isEqualTo(202);
        assertThat(replaced.json().get("outcome").asText()).isEqualTo("replaced");
        assertThat(replaced.json().get("vm").get("spec_hash").asText()).isNotEqualTo(first.get("spec_hash").asText());
        JsonNode pool = admin.get("/v1/tenants/api/pools/vm-api").json();
        assertThat(pool.get("revision").asLong()).as("the VM is replaced").isEqualTo(revision + 1);
        assertThat(pool.get("cmd")).hasSize(2);
        JsonNode now = admin.get("/vms/api").json();
        assertThat(now.get("vm_id").asText()).as("a new VM").isNotEqualTo(first.get("vm_id").asText());
        assertThat(admin.get("/v1/tenants/api/instances").json().get("items")).as("the old one was never placed: gone")
                .hasSize(1);
        // Another tenant for the same job: refused.
        assertProblem(admin.post("/vms", Map.of("job_id", "api", "tenant", "other", "spec", changed)), 409,
                "belongs to tenant 'api'");
    }

    @Test
    void aJobsIdlePolicyReachesItsNodeAndChangingOnlyItKeepsTheVm() throws Exception {
        ApiClient node = register("node-a");
        Map<String, Object> spec = new HashMap<>(webSpec());
        spec.put("ports", List.of(Map.of("guest", 8080)));
        spec.put("idle", Map.of("warm_after", "2s", "sleep_after", "5s"));
        Response created = admin.post("/vms", Map.of("job_id", "idler", "spec", spec));
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        JsonNode shown = admin.get("/vms/idler").json();
        assertThat(shown.get("spec").get("idle").get("warm_after_ms").asLong()).isEqualTo(2000);
        String vmId = shown.get("vm_id").asText();
        JsonNode entry = desiredEntry(node, vmId);
        assertThat(entry.get("idle").get("warm_after_ms").asLong()).isEqualTo(2000);
        assertThat(entry.get("idle").get("sleep_after_ms").asLong()).isEqualTo(5000);

        // Only the idle policy changes: the same VM (200, not replaced), its node gets the new policy.
        spec.put("idle", Map.of("warm_after", "2s", "sleep_after", "9s"));
        Response updated = admin.post("/vms", Map.of("job_id", "idler", "spec", spec));
        assertThat(updated.status()).as(updated.toString()).isEqualTo(200);
        assertThat(updated.json().get("vm_id").asText()).isEqualTo(vmId);
        assertThat(desiredEntry(node, vmId).get("idle").get("sleep_after_ms").asLong()).isEqualTo(9000);
        assertThat(admin.get("/vms/idler").json().get("spec").get("idle").get("sleep_after_ms").asLong()).isEqualTo(9000);

        spec.put("idle", Map.of("warm_after", "10s", "sleep_after", "5s"));
        assertProblem(admin.post("/vms", Map.of("job_id", "idler", "spec", spec)), 422, "spec.idle");
    }

    private static JsonNode desiredEntry(ApiClient node, String instance) {
        for (JsonNode i : node.get("/v1/nodes/node-a/desired").json().get("instances")) {
            if (i.get("id").asText().equals(instance)) {
                return i;
            }
        }
        throw new AssertionError("instance " + instance + " is not in node-a's desired state");
    }

    @Test
    void anInvalidSpecIs422WithEveryProblemListedAndBadJsonIs400() {
        Map<String, Object> bad = new HashMap<>(Map.of("cmd", List.of(), "resources", Map.of("vcpu", 0, "mem_mb", 16),
                "lifecycle", "forever", "rootfs", "../x"));
        Response r = admin.post("/vms", Map.of("spec", bad));
        assertThat(r.status()).as(r.toString()).isEqualTo(422);
        assertThat(r.json().get("type").asText()).endsWith("/invalid-spec");
        List<String> errors = new ArrayList<>();
        r.json().get("errors").forEach(e -> errors.add(e.asText()));
        assertThat(errors).hasSize(5).anySatisfy(e -> assertThat(e).startsWith("spec.cmd is required"))
                .anySatisfy(e -> assertThat(e).startsWith("spec.resources.vcpu must be 1-64"))
                .anySatisfy(e -> assertThat(e).startsWith("spec.resources.mem_mb"))
                .anySatisfy(e -> assertThat(e).startsWith("spec.lifecycle must be"))
                .anySatisfy(e -> assertThat(e).startsWith("spec.rootfs must be a name"));
        assertProblem(admin.post("/vms", Map.of()), 422, "spec is required");
        assertProblem(admin.post("/vms", Map.of("spec", webSpec(), "colour", "red")), 400, "colour");
        assertProblem(admin.post("/vms", Map.of("job_id", "Bad_Id", "spec", webSpec())), 400, "invalid job_id");
        assertProblem(admin.get("/vms/nope"), 404, "job 'nope' not found");
        assertThat(admin.post("/vms", Map.of("job_id", "x", "spec", webSpec())).status()).isEqualTo(202);
        assertProblem(admin.get("/vms/x?wait=stopped"), 400, "wait must be 'running'");
        assertThat(admin.post("/v1/tenants", Map.of("id", "small", "max_vcpus", 1)).status()).isEqualTo(201);
        Response quota = admin.post("/vms", Map.of("job_id", "big", "tenant", "small", "spec", webSpec()));
        assertThat(quota.status()).as(quota.toString()).isEqualTo(422);
        assertThat(quota.json().get("detail").asText()).contains("quota max_vcpus exceeded");
        assertThat(admin.get("/vms/big").status()).as("nothing half-written").isEqualTo(404);
        // Job pools' names are reserved.
        assertProblem(admin.post("/v1/tenants/small/pools", Map.of("name", "vm-mine", "profile", "p", "flake", ".",
                "vcpus", 1, "memory_mib", 64)), 400, "reserved for /vms jobs");
    }

    @Test
    void waitingForRunningBlocksUntilTheNodeReportsItOrTimesOutWith408() throws Exception {
        ApiClient node = register("node-a");
        assertThat(admin.post("/vms", Map.of("job_id", "w", "spec", webSpec())).status()).isEqualTo(202);
        Response early = admin.get("/vms/w?wait=running&timeout=300ms");
        assertProblem(early, 408, "not running after 300 ms");
        assertThat(early.json().get("status_now").asText()).isEqualTo("pending");

        var pool = Executors.newVirtualThreadPerTaskExecutor();
        Future<Response> waiting = pool.submit(() -> admin.get("/vms/w?wait=running&timeout=30s"));
        Thread.sleep(300);
        assertThat(waiting.isDone()).isFalse();
        JsonNode vm = admin.get("/vms/w").json();
        assertThat(vm.get("node").asText()).isEqualTo("node-a");
        long generation = node.get("/v1/nodes/node-a/desired").json().get("generation").asLong();
        Response reported = node.post("/v1/nodes/node-a/observed", Map.of("desired_generation", generation,
                "instances", List.of(Map.of("id", vm.get("vm_id").asText(), "state", "running", "accelerator", "tcg",
                        "events", List.of()))));
        assertThat(reported.status()).isEqualTo(204);
        Response answered = waiting.get(10, TimeUnit.SECONDS);
        assertThat(answered.status()).as(answered.toString()).isEqualTo(200);
        assertThat(answered.json().get("status").asText()).isEqualTo("running");
        assertThat(answered.json().get("ip").asText()).startsWith("10.24");
        pool.shutdownNow();
    }

    @Test
    void secretsAreWriteOnly() {
        Map<String, Object> spec = webSpec();
        spec.put("secrets", Map.of("API_KEY", "s3cret-value"));
        Response r = admin.post("/vms", Map.of("job_id", "sec", "spec", spec));
        assertThat(r.status()).isEqualTo(202);
        for (String body : List.of(r.body(), admin.get("/vms/sec").body(), admin.get("/vms").body(),
                admin.get("/stats").body(), admin.get("/v1/tenants/sec/pools/vm-sec").body())) {
            assertThat(body).doesNotContain("s3cret-value");
        }
        assertThat(admin.get("/vms/sec").json().get("spec").get("secret_names").get(0).asText()).isEqualTo("API_KEY");
        // A changed secret alone replaces the VM (the guest must get it); the spec hash stays.
        spec.put("secrets", Map.of("API_KEY", "rotated"));
        Response rotated = admin.post("/vms", Map.of("job_id", "sec", "spec", spec));
        assertThat(rotated.json().get("outcome").asText()).isEqualTo("replaced");
        assertThat(rotated.json().get("vm").get("spec_hash").asText())
                .isEqualTo(r.json().get("vm").get("spec_hash").asText());
    }

    @Test
    void deletingAJobDestroysItsVmAndItsPoolGoesOnceTheNodeConfirms() {
        ApiClient node = register("node-a");
        assertThat(admin.post("/vms", Map.of("job_id", "gone", "spec", webSpec())).status()).isEqualTo(202);
        String vm = admin.get("/vms/gone").json().get("vm_id").asText();
        assertThat(admin.delete("/vms/gone", Map.of()).status()).isEqualTo(204);
        assertProblem(admin.get("/vms/gone"), 404, "not found");
        assertThat(admin.delete("/vms/gone", Map.of()).status()).isEqualTo(404);
        JsonNode desired = node.get("/v1/nodes/node-a/desired").json();
        assertThat(desired.get("instances").findValuesAsText("desired_state")).containsExactly("destroyed");
        node.post("/v1/nodes/node-a/observed", Map.of("desired_generation", desired.get("generation").asLong(),
                "instances", List.of(Map.of("id", vm, "state", "destroyed", "events", List.of()))));
        coordinator.runHousekeeping();
        assertThat(admin.get("/v1/tenants/gone/pools/vm-gone").status()).isEqualTo(404);
        // The same id can be used again.
        assertThat(admin.post("/vms", Map.of("job_id", "gone", "spec", webSpec())).status()).isEqualTo(202);
    }

    @Test
    void concurrentSubmissionsOfOneJobCreateOneVm() throws Exception {
        var pool = Executors.newFixedThreadPool(8);
        List<Callable<Integer>> calls = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            calls.add(() -> admin.post("/vms", Map.of("job_id", "race", "spec", webSpec())).status());
        }
        List<Integer> statuses = new ArrayList<>();
        for (Future<Integer> f : pool.invokeAll(calls)) {
            statuses.add(f.get());
        }
        pool.shutdown();
        assertThat(statuses).containsOnly(200, 202);
        assertThat(statuses.stream().filter(s -> s == 202).count()).isEqualTo(1);
        assertThat(admin.get("/v1/tenants/race/instances").json().get("items")).hasSize(1);
    }

    // ---- the desired-VMs file ----

    private static final String FILE = """
            # two VMs; the second one's tenant defaults to its vm_id
            [[vm]]
            vm_id = "web-api"
            tenant = "production"
            [vm.spec]
            cmd = ["/app/bin/server"]
            env = { MIX_ENV = "prod" }
            resources = { vcpu = 1, mem_mb = 128 }
            lifecycle = "service"
            warm_pool = { min = 1, max = 3 }

            [[vm]]
            vm_id = "consumer"
            [vm.spec]
            cmd = ["/app/bin/consumer"]
            resources = { vcpu = 1, mem_mb = 128 }
            lifecycle = "daemon"
            """;

    private Set<String> jobs(String source) {
        Set<String> out = new java.util.TreeSet<>();
        admin.get("/vms").json().get("items").forEach(j -> {
            if (j.get("source").asText().equals(source)) {
                out.add(j.get("job_id").asText());
            }
        });
        return out;
    }

    @Test
    void theDesiredVmsFileIsAppliedHotReloadedAndNeverTouchesApiJobs() throws Exception {
        assertThat(admin.post("/vms", Map.of("job_id", "from-api", "spec", webSpec())).status()).isEqualTo(202);
        Path file = db.dataDir().resolve("vms.toml");
        Files.writeString(file, FILE);
        DesiredVmsWatcher watcher = coordinator.watchDesiredVms(file, Duration.ofHours(1));
        assertThat(watcher.last().applied()).isTrue();
        assertThat(jobs("file")).containsExactly("consumer", "web-api");
        assertThat(admin.get("/vms/web-api").json().get("tenant").asText()).isEqualTo("production");
        assertProblem(admin.post("/vms", Map.of("job_id", "web-api", "tenant", "production", "spec", webSpec())), 409,
                "declared in the desired-VMs file");
        assertProblem(admin.delete("/vms/consumer", Map.of()), 409, "declared in the desired-VMs file");

        // Invalid: every problem with its line; nothing changes.
        String broken = FILE.replace("vcpu = 1, mem_mb = 128 }\nlifecycle = \"daemon\"",
                "vcpu = 0, mem_mb = 128 }\nlifecycle = \"sometimes\"") + "\n[[vm]]\nvm_id = \"web-api\"\n";
        Files.writeString(file, broken);
        var rejected = watcher.checkNow();
        assertThat(rejected.applied()).isFalse();
        assertThat(rejected.problems()).anySatisfy(p -> assertThat(p).contains("vms.toml:12: vm[1]: spec.resources.vcpu"))
                .anySatisfy(p -> assertThat(p).contains("vms.toml:12: vm[1]: spec.lifecycle must be"))
                .anySatisfy(p -> assertThat(p).contains("vms.toml:19: vm[2]: vm_id 'web-api' is declared twice"))
                .anySatisfy(p -> assertThat(p).contains("vms.toml:19: vm[2]: spec is required"));
        assertThat(jobs("file")).containsExactly("consumer", "web-api");
        Files.writeString(file, "[[vm]\nvm_id = 1\n");
        assertThat(watcher.checkNow().problems()).singleElement().asString().contains("vms.toml:1: TOML syntax");

        // Changed, removed, added: applied; the API's job stays.
        String next = FILE.replace("[\"/app/bin/consumer\"]", "[\"/app/bin/consumer\", \"--fast\"]")
                .replace("vm_id = \"web-api\"", "vm_id = \"web-api-2\"");
        Files.writeString(file, next);
        assertThat(watcher.checkNow().applied()).isTrue();
        assertThat(jobs("file")).containsExactly("consumer", "web-api-2");
        assertThat(admin.get("/vms/consumer").json().get("spec").get("cmd")).hasSize(2);
        assertThat(jobs("api")).containsExactly("from-api");
        // Survives a coordinator restart without the file: the desired state is in the database.
        coordinator.stop();
        coordinator = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0).withClock(clock).withHousekeepingInterval(Duration.ofHours(1)));
        admin = admin.withPort(coordinator.port());
        assertThat(jobs("file")).containsExactly("consumer", "web-api-2");
        assertThat(admin.get("/vms").json().get("items").findValuesAsText("job_id").stream()
                .collect(Collectors.toSet())).contains("from-api");
    }

    /** The sum of the samples of {@code series} (name and opening brace) whose labels contain {@code label}. */
    private static double metricSum(String scrape, String series, String label) {
        return scrape.lines().filter(l -> l.startsWith(series) && l.contains(label))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }
}
