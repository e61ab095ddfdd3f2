package io.mvm.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.coordinator.testing.ApiClient;
import io.mvm.coordinator.testing.ApiClient.Response;
import io.mvm.coordinator.testing.TemplateFixture;
import io.mvm.coordinator.testing.TestDatabase;
import io.mvm.core.network.Ipv4Cidr;
import java.nio.file.Files;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Every route and its errors, against a real coordinator on a real database. Subclasses pick
 * the database (SQLite file, embedded PostgreSQL); the assertions are the same for both.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ApiContract {
    private TestDatabase db;
    private Coordinator coordinator;
    private ApiClient api;
    private String token;

    abstract TestDatabase.Kind kind();

    @BeforeAll
    void startCoordinator() throws Exception {
        db = kind().create();
        coordinator = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0));
        token = Files.readString(coordinator.adminTokenFile()).strip();
        api = new ApiClient(coordinator.port(), token);
    }

    @AfterAll
    void stopCoordinator() {
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

    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private String tenant(Map<String, Object> extra) {
        String id = unique("t");
        Map<String, Object> body = new java.util.HashMap<>(extra);
        body.put("id", id);
        Response r = api.post("/v1/tenants", body);
        assertThat(r.status()).as(r.toString()).isEqualTo(201);
        return id;
    }

    private String tenant() {
        return tenant(Map.of());
    }

    private static Map<String, Object> pool(String name, Object... kv) {
        Map<String, Object> body = new java.util.HashMap<>(Map.of("name", name, "profile", "minimal", "flake", ".",
                "vcpus", 1, "memory_mib", 256));
        for (int i = 0; i < kv.length; i += 2) {
            body.put((String) kv[i], kv[i + 1]);
        }
        return body;
    }

    private static void assertProblem(Response r, int status, String detailPart) {
        assertThat(r.status()).as(r.toString()).isEqualTo(status);
        assertThat(r.header("content-type")).startsWith("application/problem+json");
        JsonNode p = r.json();
        assertThat(p.get("status").asInt()).isEqualTo(status);
        assertThat(p.get("type").asText()).startsWith("https://mvm.dev/problems/");
        assertThat(p.hasNonNull("title")).isTrue();
        assertThat(p.hasNonNull("instance")).isTrue();
        assertThat(p.get("detail").asText()).contains(detailPart);
        assertThat(r.body()).doesNotContain("at io.mvm").doesNotContain("Exception");
    }

    // ---- auth ----

    @Test
    void healthzNeedsNoToken() {
        Response r = api.withToken(null).get("/healthz");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().get("status").asText()).isEqualTo("ok");
    }

    @Test
    void everyOtherRouteRefusesMissingOrWrongTokenAndAuditsIt() {
        String t = tenant();
        ApiClient anonymous = api.withToken(null);
        ApiClient wrong = api.withToken("mvm_not-a-real-token-0123456789");
        for (String path : List.of("/v1/tenants", "/v1/tenants/" + t, "/v1/nodes", "/metrics", "/openapi.json",
                "/v1/instances/i-000000000000")) {
            assertProblem(anonymous.get(path), 401, "missing bearer token");
            assertProblem(wrong.get(path), 401, "invalid or revoked token");
        }
        assertProblem(api.withToken(null).send("GET", "/v1/tenants", null, Map.of("Authorization", "Basic abc")), 401,
                "malformed Authorization header");
        String sneaky = unique("x");
        assertProblem(wrong.post("/v1/tenants", Map.of("id", sneaky)), 401, "invalid");
        assertProblem(api.get("/v1/tenants/" + sneaky), 404, "not found");

        JsonNode entries = api.get("/v1/tenants/" + t + "/audit").json().get("entries");
        List<JsonNode> denied = new ArrayList<>();
        entries.forEach(e -> {
            if (e.get("action").asText().equals("auth.denied")) {
                denied.add(e);
            }
        });
        assertThat(denied).hasSize(2);
        assertThat(denied.getFirst().get("actor").asText()).isEqualTo("anonymous");
        assertThat(denied.getFirst().get("resource").asText()).isEqualTo("GET /v1/tenants/" + t);
        assertThat(entries.toString()).doesNotContain("mvm_not-a-real-token");
    }

    // ---- tenants ----

    @Test
    void tenantLifecycle() {
        String id = unique("acme");
        Response created = api.post("/v1/tenants", Map.of("id", id, "max_vcpus", 8, "max_memory_mib", 4096,
                "max_instances", 5));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        assertThat(created.header("location")).isEqualTo("/v1/tenants/" + id);
        assertThat(created.header("etag")).isEqualTo("\"1\"");
        JsonNode t = created.json();
        assertThat(t.get("id").asText()).isEqualTo(id);
        Ipv4Cidr subnet = Ipv4Cidr.parse(t.get("subnet").asText());
        assertThat(subnet.prefix()).isEqualTo(24);
        assertThat(Ipv4Cidr.parse("10.240.0.0/12").contains(subnet.base())).isTrue();
        assertThat(t.get("net_id").asInt()).isPositive();
        assertThat(t.get("gateway").asText()).endsWith(".1");
        assertThat(t.get("quota").get("max_vcpus").asInt()).isEqualTo(8);
        assertThat(t.get("quota").get("max_memory_mib").asLong()).isEqualTo(4096);
        assertThat(t.get("quota").get("max_instances").asInt()).isEqualTo(5);

        Response got = api.get("/v1/tenants/" + id);
        assertThat(got.status()).isEqualTo(200);
        assertThat(got.json().get("subnet").asText()).isEqualTo(subnet.toString());
        assertThat(got.header("etag")).isEqualTo("\"1\"");

        JsonNode list = api.get("/v1/tenants").json().get("items");
        assertThat(list.findValuesAsText("id")).contains(id);

        assertProblem(api.post("/v1/tenants", Map.of("id", id)), 409, "already exists");
        assertProblem(api.delete("/v1/tenants/" + id, Map.of("If-Match", "\"7\"")), 412, "version 1, not 7");
        assertThat(api.delete("/v1/tenants/" + id, Map.of("If-Match", "\"1\"")).status()).isEqualTo(204);
        assertProblem(api.get("/v1/tenants/" + id), 404, "not found");
        assertProblem(api.delete("/v1/tenants/" + id, Map.of()), 404, "not found");
    }

    @Test
    void tenantDefaultsQuota() {
        String id = tenant();
        JsonNode q = api.get("/v1/tenants/" + id).json().get("quota");
        assertThat(q.get("max_vcpus").asInt()).isEqualTo(16);
        assertThat(q.get("max_memory_mib").asInt()).isEqualTo(16384);
        assertThat(q.get("max_instances").asInt()).isEqualTo(20);
    }

    @Test
    void badTenantRequestsAre4xxProblems() {
        assertProblem(api.post("/v1/tenants", Map.of("id", "Bad_Id")), 400, "invalid tenant id");
        assertProblem(api.post("/v1/tenants", Map.of("id", unique("u"), "colour", "blue")), 400, "unknown field 'colour'");
        assertProblem(api.post("/v1/tenants", Map.of("id", unique("u"), "max_vcpus", "lots")), 400, "max_vcpus");
        assertProblem(api.post("/v1/tenants", Map.of("id", unique("u"), "max_vcpus", 1.5)), 400, "max_vcpus");
        assertProblem(api.post("/v1/tenants", Map.of("id", 42)), 400, "'id'");
        assertProblem(api.post("/v1/tenants", Map.of("id", unique("u"), "max_vcpus", -1)), 400, "negative");
        assertProblem(api.post("/v1/tenants", "{\"id\":\"x\",\"max_vcpus\":99999999999}"), 400, "out of range");
        assertProblem(api.post("/v1/tenants", "{\"id\": "), 400, "not valid JSON");
        assertProblem(api.post("/v1/tenants", "[1,2]"), 400, "JSON object");
        assertProblem(api.post("/v1/tenants", "{}"), 400, "'id' is required");
        assertProblem(api.send("POST", "/v1/tenants", null, Map.of()), 400, "empty");
        assertProblem(api.post("/v1/tenants", "{\"id\":\"" + "a".repeat(70_000) + "\"}"), 413, "limit");
        assertProblem(api.get("/v1/tenants/NOT_VALID"), 400, "invalid tenant id");
        assertProblem(api.get("/v1/tenants/nosuch-" + UUID.randomUUID().toString().substring(0, 6)), 404, "not found");
        assertProblem(api.get("/v1/no/such/route"), 404, "no route");
        assertProblem(api.delete("/v1/tenants/x", Map.of("If-Match", "banana")), 400, "If-Match");
        assertProblem(api.delete("/v1/tenants/x?force=maybe", Map.of()), 400, "force");
    }

    @Test
    void tenantDeleteIsRefusedWithInstancesUnlessForced() {
        String t = tenant();
        assertThat(api.post("/v1/tenants/" + t + "/pools", pool("workers", "running", 2)).status()).isEqualTo(201);
        assertProblem(api.delete("/v1/tenants/" + t, Map.of()), 409, "still has 2 instance(s)");
        assertThat(api.get("/v1/tenants/" + t).status()).isEqualTo(200);
        assertThat(api.delete("/v1/tenants/" + t + "?force=true", Map.of()).status()).isEqualTo(204);
        assertProblem(api.get("/v1/tenants/" + t), 404, "not found");
        assertThat(api.get("/v1/tenants").json().findValuesAsText("id")).doesNotContain(t);
        // The trail outlives the tenant.
        assertThat(api.get("/v1/tenants/" + t + "/audit").json().get("entries").findValuesAsText("action"))
                .startsWith("tenant.create").contains("instance.delete", "pool.update", "pool.delete").endsWith("tenant.delete");
    }

    // ---- pools ----

    @Test
    void poolCreateMaterializesInstancesWithAddressesFromTheTenantSubnet() {
        String t = tenant();
        Response r = api.post("/v1/tenants/" + t + "/pools", pool("workers", "running", 2, "warm", 1, "sleeping", 1));
        assertThat(r.status()).as(r.toString()).isEqualTo(201);
        assertThat(r.header("location")).isEqualTo("/v1/tenants/" + t + "/pools/workers");
        JsonNode p = r.json();
        assertThat(p.get("role").asText()).isEqualTo("worker");
        assertThat(p.get("role_priority").asInt()).isEqualTo(2);
        assertThat(p.get("drives").get("secrets").asBoolean()).isTrue();
        assertThat(p.get("drives").get("config").asBoolean()).isFalse();
        assertThat(p.get("desired").get("running").asInt()).isEqualTo(2);

        String subnet = api.get("/v1/tenants/" + t).json().get("subnet").asText();
        Ipv4Cidr cidr = Ipv4Cidr.parse(subnet);
        JsonNode instances = api.get("/v1/tenants/" + t + "/instances").json().get("items");
        assertThat(instances).hasSize(4);
        Set<String> ips = new HashSet<>();
        List<String> desired = new ArrayList<>();
        instances.forEach(i -> {
            ips.add(i.get("ip").asText());
            desired.add(i.get("desired_state").asText());
            assertThat(i.get("state").asText()).isEqualTo("pending");
            assertThat(i.get("node").isNull()).isTrue();
            assertThat(i.get("pool").asText()).isEqualTo("workers");
        });
        assertThat(ips).hasSize(4).allSatisfy(ip -> {
            assertThat(cidr.contains(io.mvm.core.network.Ipv4.parse(ip))).isTrue();
            assertThat(ip).doesNotEndWith(".1").doesNotEndWith(".0").doesNotEndWith(".255");
        });
        assertThat(desired).containsExactlyInAnyOrder("running", "running", "warm", "sleeping");

        JsonNode gateway = api.post("/v1/tenants/" + t + "/pools", pool("gateways", "role", "gateway")).json();
        assertThat(gateway.get("role_priority").asInt()).isZero();
        assertThat(gateway.get("drives").get("config").asBoolean()).isTrue();
        JsonNode list = api.get("/v1/tenants/" + t + "/pools").json().get("items");
        assertThat(list.findValuesAsText("role")).containsExactly("gateway", "worker");
        assertThat(api.get("/v1/tenants/" + t + "/instances?pool=workers").json().get("items")).hasSize(4);
        assertThat(api.get("/v1/tenants/" + t + "/instances?pool=gateways").json().get("items")).isEmpty();
    }

    @Test
    void poolErrors() {
        String t = tenant(Map.of("max_vcpus", 4, "max_memory_mib", 8192, "max_instances", 10));
        String pools = "/v1/tenants/" + t + "/pools";
        assertThat(api.post(pools, pool("p1", "running", 1)).status()).isEqualTo(201);
        assertProblem(api.post(pools, pool("p1")), 409, "already exists");
        assertProblem(api.post("/v1/tenants/nosuch-x1/pools", pool("p1")), 404, "tenant 'nosuch-x1' not found");
        assertProblem(api.post(pools, pool("p2", "role", "wizard")), 400, "unknown role 'wizard'");
        assertProblem(api.post(pools, pool("p2", "vcpus", 0)), 400, "vcpus must be 1-64");
        assertProblem(api.post(pools, pool("p2", "vcpus", "two")), 400, "vcpus");
        assertProblem(api.post(pools, pool("p2", "running", -1)), 400, "negative");
        // Counts whose int sum wraps around must be refused, not slip past the size and quota checks.
        assertProblem(api.post(pools, pool("p2", "running", 1, "sleeping", Integer.MAX_VALUE)), 400,
                "more than a pool can hold");
        assertProblem(api.post(pools, pool("p2", "running", Integer.MAX_VALUE, "warm", Integer.MAX_VALUE,
                "sleeping", 2)), 400, "more than a pool can hold");
        assertProblem(api.post(pools, pool("p2", "extra", true)), 400, "unknown field 'extra'");
        assertProblem(api.post(pools, Map.of("name", "p2", "flake", ".", "vcpus", 1, "memory_mib", 256)), 400,
                "'profile' is required");
        assertProblem(api.post(pools, pool("Bad Name")), 400, "invalid pool name");

        Response quota = api.post(pools, pool("p3", "vcpus", 2, "running", 2));
        assertProblem(quota, 422, "quota max_vcpus exceeded: limit 4, requested 5, in use 1");
        JsonNode body = quota.json();
        assertThat(body.get("quota").asText()).isEqualTo("max_vcpus");
        assertThat(body.get("limit").asLong()).isEqualTo(4);
        assertThat(body.get("requested").asLong()).isEqualTo(5);
        assertThat(body.get("in_use").asLong()).isEqualTo(1);
        assertProblem(api.post(pools, pool("p4", "sleeping", 10)), 422, "max_instances");
        assertProblem(api.post(pools, pool("p5", "memory_mib", 9000, "running", 1)), 422, "max_memory_mib");
        assertProblem(api.get(pools + "/nosuch"), 404, "pool '" + t + "/nosuch' not found");
        assertThat(api.get(pools).json().get("items")).hasSize(1);
    }

    @Test
    void patchScalesAndGuardsRoleVersionAndQuota() {
        String t = tenant(Map.of("max_vcpus", 6, "max_instances", 8));
        String path = "/v1/tenants/" + t + "/pools/web";
        api.post("/v1/tenants/" + t + "/pools", pool("web", "running", 1));
        Response scaled = api.patch(path, Map.of("running", 3, "warm", 1), Map.of("If-Match", "\"1\""));
        assertThat(scaled.status()).as(scaled.toString()).isEqualTo(200);
        assertThat(scaled.header("etag")).isEqualTo("\"2\"");
        assertThat(scaled.json().get("desired").get("running").asInt()).isEqualTo(3);
        assertThat(api.get("/v1/tenants/" + t + "/instances").json().get("items")).hasSize(4);

        assertProblem(api.patch(path, Map.of("running", 1), Map.of("If-Match", "\"1\"")), 412, "not 1");
        assertProblem(api.patch(path, Map.of("role", "gateway"), Map.of()), 409, "cannot be changed");
        assertThat(api.patch(path, Map.of("role", "worker"), Map.of()).status()).isEqualTo(200);
        assertProblem(api.patch(path, Map.of("running", 7), Map.of()), 422, "quota max_vcpus exceeded: limit 6, requested 8, in use 4");
        assertProblem(api.patch(path, Map.of("flake", "other"), Map.of()), 400, "unknown field 'flake'");
        assertProblem(api.patch(path, Map.of("running", "3"), Map.of()), 400, "running");
        assertProblem(api.patch(path, Map.of("vcpus", 100), Map.of()), 400, "vcpus");
        assertProblem(api.patch("/v1/tenants/" + t + "/pools/nosuch", Map.of("running", 1), Map.of()), 404, "not found");

        // Scale down: pending instances go first, counts exact.
        JsonNode down = api.patch(path, Map.of("running", 1, "warm", 0), Map.of()).json();
        assertThat(down.get("desired").get("running").asInt()).isEqualTo(1);
        assertThat(api.get("/v1/tenants/" + t + "/instances").json().get("items")).hasSize(1);

        String base = unique("base");
        TemplateFixture.create(api, base);
        TemplateFixture.build(api, base + "-worker", base);
        JsonNode resized = api.patch(path, Map.of("vcpus", 2, "template", base + "-worker"), Map.of()).json();
        assertThat(resized.get("revision").asInt()).isEqualTo(2);
        assertThat(resized.get("template").asText()).isEqualTo(base + "-worker");
        assertThat(api.patch(path, Map.of("template", ""), Map.of()).json().get("template").isNull()).isTrue();

        Response stale = api.delete(path, Map.of("If-Match", "\"1\""));
        assertProblem(stale, 412, "changed since you read it");
        String etag = api.get(path).header("etag");
        assertThat(api.delete(path, Map.of("If-Match", etag)).status()).isEqualTo(204);
        assertProblem(api.get(path), 404, "not found");
        assertThat(api.get("/v1/tenants/" + t + "/instances").json().get("items")).isEmpty();
    }

    // ---- instances ----

    @Test
    void instanceActionsMoveTheInstanceAndItsPoolCountsTogether() {
        String t = tenant();
        api.post("/v1/tenants/" + t + "/pools", pool("w", "running", 2));
        JsonNode first = api.get("/v1/tenants/" + t + "/instances").json().get("items").get(0);
        String id = first.get("id").asText();
        String ip = first.get("ip").asText();
        String inst = "/v1/instances/" + id;

        Response got = api.get(inst);
        assertThat(got.status()).isEqualTo(200);
        assertThat(got.json().get("tenant").asText()).isEqualTo(t);
        assertThat(got.header("etag")).isEqualTo("\"1\"");

        Response stopped = api.post(inst + "/stop", null);
        assertThat(stopped.status()).as(stopped.toString()).isEqualTo(200);
        assertThat(stopped.json().get("desired_state").asText()).isEqualTo("stopped");
        JsonNode counts = api.get("/v1/tenants/" + t + "/pools/w").json().get("desired");
        assertThat(counts.get("running").asInt()).isEqualTo(1);
        assertThat(counts.get("stopped").asInt()).isEqualTo(1);

        assertProblem(api.post(inst + "/sleep", null), 409, "cannot sleep an instance that is stopped");
        assertProblem(api.post(inst + "/wake", null), 409, "use start");
        assertThat(api.post(inst + "/start", null).json().get("desired_state").asText()).isEqualTo("running");
        assertThat(api.post(inst + "/warm", null).json().get("desired_state").asText()).isEqualTo("warm");
        assertProblem(api.post(inst + "/start", null), 409, "use wake");
        assertThat(api.post(inst + "/sleep", null).json().get("desired_state").asText()).isEqualTo("sleeping");
        JsonNode woken = api.post(inst + "/wake", null).json();
        assertThat(woken.get("desired_state").asText()).isEqualTo("running");
        assertThat(woken.get("ip").asText()).as("address is stable").isEqualTo(ip);
        counts = api.get("/v1/tenants/" + t + "/pools/w").json().get("desired");
        assertThat(List.of(counts.get("running").asInt(), counts.get("warm").asInt(), counts.get("sleeping").asInt(),
                counts.get("stopped").asInt())).containsExactly(2, 0, 0, 0);
        assertThat(api.post(inst + "/wake", null).status()).as("idempotent").isEqualTo(200);

        // A later scale does not undo an action: the instance stays what it was asked to be.
        api.post(inst + "/sleep", null);
        api.patch("/v1/tenants/" + t + "/pools/w", Map.of("running", 2), Map.of());
        assertThat(api.get(inst).json().get("desired_state").asText()).isEqualTo("sleeping");
        assertThat(api.get("/v1/tenants/" + t + "/instances").json().get("items")).hasSize(3);

        String version = api.get(inst).header("etag");
        assertProblem(api.delete(inst, Map.of("If-Match", "\"99\"")), 412, "not 99");
        assertThat(api.delete(inst, Map.of("If-Match", version)).status()).isEqualTo(204);
        assertProblem(api.get(inst), 404, "not found");
        assertThat(api.get("/v1/tenants/" + t + "/pools/w").json().get("desired").get("sleeping").asInt()).isZero();
        assertThat(api.get("/v1/tenants/" + t + "/instances").json().get("items")).hasSize(2);

        assertProblem(api.get("/v1/instances/NOT_AN_ID"), 400, "invalid instance id");
        assertProblem(api.get("/v1/instances/i-ffffffffffff"), 404, "not found");
        assertProblem(api.post("/v1/instances/i-ffffffffffff/start", null), 404, "not found");
        assertProblem(api.delete("/v1/instances/i-ffffffffffff", Map.of()), 404, "not found");
        assertProblem(api.post("/v1/instances/" + id + "/explode", null), 404, "no route");
        assertProblem(api.get("/v1/tenants/nosuch-zz/instances"), 404, "not found");
    }

    /** Simulates an agent having placed an instance (the reconcile work will do this for real). */
    private void place(String instanceId) {
        try (io.mvm.store.db.Database direct = io.mvm.store.db.Database.open(db.url())) {
            direct.inTransaction(tx -> tx.update(
                    "UPDATE instances SET node_id = 'node-1', state = 'running' WHERE id = ?", instanceId));
        }
    }

    private void confirmDestroyed(String instanceId) {
        try (io.mvm.store.db.Database direct = io.mvm.store.db.Database.open(db.url())) {
            direct.inTransaction(tx -> tx.update("DELETE FROM instances WHERE id = ?", instanceId));
        }
    }

    @Test
    void placedInstancesAreMarkedDestroyedUntilTheirNodeConfirms() {
        String t = tenant();
        String poolPath = "/v1/tenants/" + t + "/pools/w";
        api.post("/v1/tenants/" + t + "/pools", pool("w", "running", 3));
        JsonNode items = api.get("/v1/tenants/" + t + "/instances").json().get("items");
        String a = items.get(0).get("id").asText();
        String b = items.get(1).get("id").asText();
        String bIp = items.get(1).get("ip").asText();
        place(a);
        place(b);

        Response deleted = api.delete("/v1/instances/" + a, Map.of());
        assertThat(deleted.status()).as(deleted.toString()).isEqualTo(202);
        assertThat(deleted.json().get("desired_state").asText()).isEqualTo("destroyed");
        assertThat(deleted.json().get("node").asText()).isEqualTo("node-1");
        assertThat(api.get(poolPath).json().get("desired").get("running").asInt()).isEqualTo(2);
        assertProblem(api.post("/v1/instances/" + a + "/stop", null), 409, "being destroyed");
        assertThat(api.delete("/v1/instances/" + a, Map.of()).status()).as("idempotent").isEqualTo(202);

        // Scaling to zero deletes the unplaced one at once and marks the placed one.
        api.patch(poolPath, Map.of("running", 0), Map.of());
        JsonNode left = api.get("/v1/tenants/" + t + "/instances").json().get("items");
        assertThat(left.findValuesAsText("id")).containsExactlyInAnyOrder(a, b);
        assertThat(left.findValuesAsText("desired_state")).containsOnly("destroyed");

        // A new instance never reuses an address still held by a placed record.
        api.patch(poolPath, Map.of("running", 1), Map.of());
        JsonNode fresh = api.get("/v1/tenants/" + t + "/instances?pool=w").json().get("items");
        assertThat(fresh).hasSize(3);
        fresh.forEach(i -> {
            if (!i.get("id").asText().equals(b)) {
                assertThat(i.get("ip").asText()).isNotEqualTo(bIp);
            }
        });
        api.patch(poolPath, Map.of("running", 0), Map.of());

        assertProblem(api.delete(poolPath, Map.of()), 409, "2 instance(s) placed on nodes");
        assertProblem(api.delete("/v1/tenants/" + t + "?force=true", Map.of()), 409, "placed on nodes");
        confirmDestroyed(a);
        confirmDestroyed(b);
        assertThat(api.delete(poolPath, Map.of()).status()).isEqualTo(204);
        assertThat(api.delete("/v1/tenants/" + t, Map.of()).status()).isEqualTo(204);
    }

    @Test
    void actionsThatAddResourcesCheckTheQuota() {
        String t = tenant(Map.of("max_vcpus", 2));
        api.post("/v1/tenants/" + t + "/pools", pool("w", "vcpus", 2, "running", 1, "sleeping", 1));
        String sleeping = null;
        for (JsonNode i : api.get("/v1/tenants/" + t + "/instances").json().get("items")) {
            if (i.get("desired_state").asText().equals("sleeping")) {
                sleeping = i.get("id").asText();
            }
        }
        assertProblem(api.post("/v1/instances/" + sleeping + "/wake", null), 422,
                "quota max_vcpus exceeded: limit 2, requested 4, in use 2");
    }

    // ---- audit, nodes, metrics, openapi ----

    @Test
    void auditRecordsEveryChangeWithVersionsAndPages() {
        String t = tenant();
        api.post("/v1/tenants/" + t + "/pools", pool("w", "running", 1));
        api.patch("/v1/tenants/" + t + "/pools/w", Map.of("running", 2), Map.of());
        JsonNode page = api.get("/v1/tenants/" + t + "/audit").json();
        List<String> actions = page.get("entries").findValuesAsText("action");
        assertThat(actions).containsExactly("tenant.create", "pool.create", "instance.create", "pool.update",
                "instance.create");
        JsonNode update = page.get("entries").get(3);
        assertThat(update.get("actor").asText()).isEqualTo("admin:admin");
        assertThat(update.get("before_version").asLong()).isEqualTo(1);
        assertThat(update.get("after_version").asLong()).isEqualTo(2);
        assertThat(update.get("resource").asText()).isEqualTo("pools/" + t + "/w");
        assertThat(page.get("entries").get(0).get("before_version").isNull()).isTrue();
        assertThat(page.get("next_after").isNull()).isTrue();

        JsonNode first = api.get("/v1/tenants/" + t + "/audit?limit=2").json();
        assertThat(first.get("entries")).hasSize(2);
        long next = first.get("next_after").asLong();
        JsonNode second = api.get("/v1/tenants/" + t + "/audit?limit=2&after=" + next).json();
        assertThat(second.get("entries").findValuesAsText("action")).containsExactly("instance.create", "pool.update");
        assertProblem(api.get("/v1/tenants/" + t + "/audit?limit=0"), 400, "limit");
        assertProblem(api.get("/v1/tenants/" + t + "/audit?after=x"), 400, "after");
        assertProblem(api.get("/v1/tenants/nosuch-q/audit"), 404, "not found");
    }

    @Test
    void nodesAreEmptyUntilAgentsRegister() {
        Response r = api.get("/v1/nodes");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().get("items")).isEmpty();
    }

    @Test
    void metricsCountRequestsPerRouteAndStatus() {
        String t = tenant();
        api.get("/v1/tenants/" + t);
        api.get("/v1/tenants/nosuch-metric");
        Response r = api.get("/metrics");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body())
                .contains("mvm_http_requests_seconds_count{method=\"GET\",route=\"/v1/tenants/{tenant}\",status=\"200\"}")
                .contains("route=\"/v1/tenants/{tenant}\",status=\"404\"")
                .contains("mvm_tenants ")
                .contains("mvm_instances ");
    }

    @Test
    void openApiDocumentsExactlyTheRegisteredRoutes() {
        Response r = api.get("/openapi.json");
        assertThat(r.status()).isEqualTo(200);
        JsonNode doc = r.json();
        assertThat(doc.get("openapi").asText()).startsWith("3.1");
        Set<String> documented = new HashSet<>();
        doc.get("paths").properties().forEach(e -> e.getValue().properties().forEach(op -> {
            if (Set.of("get", "post", "put", "patch", "delete").contains(op.getKey())) {
                documented.add(op.getKey().toUpperCase() + " " + e.getKey());
            }
        }));
        Set<String> registered = new HashSet<>();
        coordinator.api().registeredRoutes().forEach(e -> registered.add(e.getKey() + " " + e.getValue()));
        assertThat(registered).hasSizeGreaterThan(15);
        assertThat(documented).isEqualTo(registered);
    }

    // ---- templates ----

    @Test
    void anInvalidTemplateFileIsRefusedWithEveryProblemAndItsLine() {
        String bad = "template_id = \"Web Site\"\n[source.oci]\nlayout = \"img\"\n\n[[variants]]\nrole = \"worker\"\n"
                + "vcpus = 0\nmem_mib = 256\n";
        Response r = api.post("/v1/templates", Map.of("config", bad, "file_name", "web.toml"));
        assertProblem(r, 422, "web.toml: 2 problems");
        assertThat(r.json().get("detail").asText()).contains("line 1: template_id 'Web Site'").contains("line 7: vcpus");
        assertThat(r.json().get("problems")).hasSize(2);
        assertThat(r.json().get("type").asText()).endsWith("invalid-template");
        Response syntax = api.post("/v1/templates", Map.of("config", "template_id = \"x\"\n[source.oci\n"));
        assertProblem(syntax, 422, "line 2");
        assertProblem(api.post("/v1/templates", Map.of("config", TemplateFixture.toml("ok", "worker"),
                "config_dir", "relative/dir")), 400, "absolute");
        assertProblem(api.post("/v1/templates", Map.of()), 400, "config");
    }

    @Test
    void templatesAreCreatedPerVariantBuiltByDigestAndServedWithRanges() {
        String id = unique("web");
        String twoRoles = TemplateFixture.toml(id, "worker") + "\n[[variants]]\nrole = \"gateway\"\nvcpus = 1\nmem_mib = 128\n";
        Response created = api.post("/v1/templates", Map.of("config", twoRoles, "config_dir", "/srv/t"));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        assertThat(created.json().get("items").findValuesAsText("name")).containsExactly(id + "-worker", id + "-gateway");
        assertProblem(api.post("/v1/templates", Map.of("config", twoRoles)), 409, "already exist");
        String name = id + "-worker";
        JsonNode info = api.get("/v1/templates/" + name).json();
        assertThat(info.get("config").asText()).isEqualTo(twoRoles);
        assertThat(info.get("config_dir").asText()).isEqualTo("/srv/t");
        assertThat(info.get("current_revision").isNull()).isTrue();
        assertThat(api.get("/v1/templates").json().get("items").findValuesAsText("name")).contains(name, id + "-gateway");

        // Uploads are content-addressed: bytes that do not hash to the digest are refused and not kept.
        var files = TemplateFixture.files(id);
        byte[] rootfs = files.get("rootfs");
        String rootDigest = TemplateFixture.sha256(rootfs);
        var wrong = api.raw("PUT", "/v1/artifacts/sha256:" + rootDigest, "not the rootfs".getBytes(), Map.of());
        assertThat(wrong.status()).isEqualTo(422);
        assertThat(new String(wrong.body())).contains("nothing was stored");
        assertThat(api.raw("GET", "/v1/artifacts/sha256:" + rootDigest, null, Map.of()).status()).isEqualTo(404);
        assertThat(api.raw("PUT", "/v1/artifacts/sha256:nothex", rootfs, Map.of()).status()).isEqualTo(400);

        // A revision naming an artifact the coordinator lacks is refused, naming it.
        String hash = TemplateFixture.sha256(id.getBytes());
        Response missing = api.post("/v1/templates/" + name + "/revisions", TemplateFixture.record(name, hash, files));
        assertProblem(missing, 422, "sha256:" + rootDigest + " (not uploaded)");
        assertThat(TemplateFixture.build(api, name, id)).isEqualTo(hash);
        JsonNode current = api.get("/v1/templates/" + name).json();
        assertThat(current.get("current_revision").asText()).isEqualTo(hash);
        JsonNode revisions = api.get("/v1/templates/" + name + "/revisions").json().get("items");
        assertThat(revisions).hasSize(1);
        assertThat(revisions.get(0).get("current").asBoolean()).isTrue();
        assertThat(revisions.get(0).get("record").get("kernel_version").asText()).isEqualTo("6.1.0-test");
        assertThat(revisions.get(0).get("artifacts").findValuesAsText("sha256")).contains(rootDigest);
        // A revision built for another role is not this template's.
        var gatewayRecord = new java.util.LinkedHashMap<>(TemplateFixture.record(id + "-gateway", hash, files));
        assertProblem(api.post("/v1/templates/" + id + "-gateway/revisions", gatewayRecord), 422, "role worker");

        // Downloads: whole, or resumed from an offset (206 with Content-Range).
        var whole = api.raw("GET", "/v1/artifacts/sha256:" + rootDigest, null, Map.of());
        assertThat(whole.status()).isEqualTo(200);
        assertThat(whole.body()).isEqualTo(rootfs);
        var tail = api.raw("GET", "/v1/artifacts/sha256:" + rootDigest, null, Map.of("Range", "bytes=100-"));
        assertThat(tail.status()).isEqualTo(206);
        assertThat(tail.headers().get("content-range")).isEqualTo("bytes 100-" + (rootfs.length - 1) + "/" + rootfs.length);
        assertThat(tail.body()).isEqualTo(java.util.Arrays.copyOfRange(rootfs, 100, rootfs.length));
        assertThat(api.raw("GET", "/v1/artifacts/sha256:" + rootDigest, null,
                Map.of("Range", "bytes=" + rootfs.length + "-")).status()).isEqualTo(416);

        // A second build becomes current; the first is the previous one, and can be made current again.
        String second = TemplateFixture.build(api, name, id + "-2");
        JsonNode after = api.get("/v1/templates/" + name).json();
        assertThat(after.get("current_revision").asText()).isEqualTo(second);
        assertThat(after.get("previous_revision").asText()).isEqualTo(hash);
        assertThat(api.post("/v1/templates/" + name + "/current", Map.of("revision", hash)).json()
                .get("current_revision").asText()).isEqualTo(hash);
        assertProblem(api.post("/v1/templates/" + name + "/current", Map.of("revision", "f".repeat(64))), 422,
                "has no revision");
        assertThat(api.get("/v1/audit?limit=1000").body()).contains("template.create").contains("template.revision.register")
                .contains("template.current");
    }

    @Test
    void poolsNamingAnUnknownOrUnbuiltTemplateAre422AndDeletionWaitsForThePools() {
        String t = unique("tt");
        assertThat(api.post("/v1/tenants", Map.of("id", t)).status()).isEqualTo(201);
        String id = unique("app");
        String name = id + "-worker";
        Map<String, Object> pool = new java.util.HashMap<>(Map.of("name", "p", "profile", "minimal", "flake", ".",
                "vcpus", 1, "memory_mib", 128, "template", name));
        assertProblem(api.post("/v1/tenants/" + t + "/pools", pool), 422, "template '" + name + "' does not exist");
        TemplateFixture.create(api, id);
        assertProblem(api.post("/v1/tenants/" + t + "/pools", pool), 422, "template '" + name + "' has no revision");
        TemplateFixture.build(api, name, id);
        assertThat(api.post("/v1/tenants/" + t + "/pools", pool).status()).isEqualTo(201);
        String path = "/v1/tenants/" + t + "/pools/p";
        assertProblem(api.patch(path, Map.of("template", "nosuch-worker"), Map.of()), 422, "'nosuch-worker' does not exist");

        assertProblem(api.delete("/v1/templates/" + name, Map.of()), 409, "used by pool(s) " + t + "/p");
        assertThat(api.get("/v1/templates/" + name).status()).isEqualTo(200);
        assertThat(api.delete("/v1/templates/" + name + "?force=true", Map.of()).status()).isEqualTo(204);
        assertProblem(api.get("/v1/templates/" + name), 404, "not found");
        assertProblem(api.get("/v1/templates/" + name + "/revisions"), 404, "not found");
        assertThat(api.get("/v1/audit?limit=1000").body()).contains("template.delete");
    }

    // ---- exhaustion ----

    @Test
    void subnetExhaustionIs507() {
        try (TestDatabase small = kind().create();
             Coordinator c = Coordinator.start(CoordinatorConfig.defaults(small.dataDir()).withDatabase(small.url())
                     .withListen("127.0.0.1", 0).withClusterCidr(Ipv4Cidr.parse("192.168.8.0/23"))
                     .withClock(InstantSource.system()))) {
            ApiClient client = new ApiClient(c.port(), Files.readString(c.adminTokenFile()).strip());
            assertThat(client.post("/v1/tenants", Map.of("id", "a")).json().get("subnet").asText())
                    .isEqualTo("192.168.8.0/24");
            assertThat(client.post("/v1/tenants", Map.of("id", "b")).json().get("subnet").asText())
                    .isEqualTo("192.168.9.0/24");
            Response full = client.post("/v1/tenants", Map.of("id", "c"));
            assertProblem(full, 507, "all 2 /24 subnets of 192.168.8.0/23 are in use");
            // A freed subnet is reused.
            assertThat(client.delete("/v1/tenants/a", Map.of()).status()).isEqualTo(204);
            assertThat(client.post("/v1/tenants", Map.of("id", "c")).json().get("subnet").asText())
                    .isEqualTo("192.168.8.0/24");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void randomTenantChurnNeverOverlapsAndLiveTenantsKeepTheirSubnets() throws Exception {
        long seed = new java.util.Random().nextLong();
        java.util.Random random = new java.util.Random(seed);
        try (TestDatabase churn = kind().create();
             Coordinator c = Coordinator.start(CoordinatorConfig.defaults(churn.dataDir()).withDatabase(churn.url())
                     .withListen("127.0.0.1", 0).withClusterCidr(Ipv4Cidr.parse("10.99.0.0/20")))) {
            ApiClient client = new ApiClient(c.port(), Files.readString(c.adminTokenFile()).strip());
            Map<String, String> live = new java.util.LinkedHashMap<>();
            for (int step = 0; step < 150; step++) {
                String context = "seed " + seed + ", step " + step;
                if (live.isEmpty() || random.nextInt(3) > 0) {
                    String id = "c" + step;
                    Response r = client.post("/v1/tenants", Map.of("id", id));
                    if (live.size() == 16) {
                        assertThat(r.status()).as(context).isEqualTo(507);
                        continue;
                    }
                    assertThat(r.status()).as(context + ": " + r).isEqualTo(201);
                    live.put(id, r.json().get("subnet").asText());
                } else {
                    List<String> ids = new ArrayList<>(live.keySet());
                    String victim = ids.get(random.nextInt(ids.size()));
                    assertThat(client.delete("/v1/tenants/" + victim, Map.of()).status()).as(context).isEqualTo(204);
                    live.remove(victim);
                }
                Map<String, String> listed = new java.util.HashMap<>();
                client.get("/v1/tenants").json().get("items")
                        .forEach(t -> listed.put(t.get("id").asText(), t.get("subnet").asText()));
                assertThat(listed).as(context + ": live tenants keep their subnets").isEqualTo(live);
                List<Ipv4Cidr> subnets = live.values().stream().map(Ipv4Cidr::parse).toList();
                for (int i = 0; i < subnets.size(); i++) {
                    assertThat(Ipv4Cidr.parse("10.99.0.0/20").contains(subnets.get(i).base())).isTrue();
                    for (int j = i + 1; j < subnets.size(); j++) {
                        assertThat(subnets.get(i).overlaps(subnets.get(j))).as(context).isFalse();
                    }
                }
            }
        }
    }

    @Test
    void addressExhaustionIs507() {
        String t = tenant(Map.of("max_instances", 400));
        String pools = "/v1/tenants/" + t + "/pools";
        assertThat(api.post(pools, pool("big", "sleeping", 253)).status()).isEqualTo(201);
        assertProblem(api.patch(pools + "/big", Map.of("sleeping", 254), Map.of()), 507, "no free address");
        assertThat(api.get(pools + "/big").json().get("desired").get("sleeping").asInt()).isEqualTo(253);
    }
}
