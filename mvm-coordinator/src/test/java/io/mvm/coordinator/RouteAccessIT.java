package io.mvm.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.coordinator.testing.ApiClient;
import io.mvm.coordinator.testing.ApiClient.Response;
import io.mvm.coordinator.testing.TestDatabase;
import io.mvm.model.NodeId;
import java.nio.file.Files;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Walks every route of the OpenAPI document with every kind of token and checks that what the
 * server allows and refuses is what the route's declared access says — by an oracle written here,
 * apart from the server's own policy code. Also checks that the document's {@code x-mvm-access}
 * and the server's route table agree, and that tenant tokens see only their own tenant in lists.
 */
class RouteAccessIT {
    private TestDatabase db;
    private Coordinator coordinator;
    private ApiClient admin;
    private final Map<String, ApiClient> callers = new LinkedHashMap<>();
    private String instance;

    @BeforeEach
    void start() throws Exception {
        db = TestDatabase.Kind.SQLITE.create();
        coordinator = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0).withClock(InstantSource.system())
                .withHousekeepingInterval(Duration.ofHours(1)));
        admin = new ApiClient(coordinator.port(), Files.readString(coordinator.adminTokenFile()).strip());
        for (String t : List.of("t1", "t2")) {
            assertThat(admin.post("/v1/tenants", Map.of("id", t)).status()).isEqualTo(201);
        }
        ApiClient nodeA = admin.withToken(coordinator.issueNodeToken(NodeId.of("node-a")));
        ApiClient nodeB = admin.withToken(coordinator.issueNodeToken(NodeId.of("node-b")));
        for (var n : Map.of("node-a", nodeA, "node-b", nodeB).entrySet()) {
            assertThat(n.getValue().post("/v1/nodes/register", Map.of("node_id", n.getKey(), "capacity",
                    Map.of("vcpus", 8, "memory_mib", 16384, "disk_mib", 100_000), "accelerator", "tcg")).status())
                    .isEqualTo(200);
        }
        assertThat(admin.post("/v1/tenants/t1/pools", Map.of("name", "p", "profile", "m", "flake", ".", "vcpus", 1,
                "memory_mib", 64, "running", 1)).status()).isEqualTo(201);
        instance = admin.get("/v1/tenants/t1/instances").json().get("items").get(0).get("id").asText();
        assertThat(admin.post("/vms", Map.of("job_id", "j1", "tenant", "t1", "spec", Map.of("cmd", List.of("x"),
                "resources", Map.of("vcpu", 1, "mem_mb", 64), "lifecycle", "service"))).status()).isEqualTo(202);
        callers.put("none", admin.withToken("mvm_not-a-token"));
        callers.put("admin", admin);
        callers.put("node-a", nodeA);
        callers.put("node-b", nodeB);
        callers.put("t1-admin", admin.withToken(token(Map.of("kind", "tenant", "tenant", "t1", "role", "tenant-admin"))));
        callers.put("t1-read", admin.withToken(token(Map.of("kind", "tenant", "tenant", "t1", "role", "tenant-read"))));
        callers.put("t2-admin", admin.withToken(token(Map.of("kind", "tenant", "tenant", "t2", "role", "tenant-admin"))));
        callers.put("metrics", admin.withToken(token(Map.of("kind", "metrics"))));
    }

    private String token(Map<String, Object> body) {
        Response r = admin.post("/v1/tokens", body);
        assertThat(r.status()).as(r.toString()).isEqualTo(201);
        return r.json().get("token").asText();
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

    /** The oracle: may {@code who} use a route with {@code access} on tenant t1's / node-a's resources? */
    private static boolean allowed(String access, String who) {
        return switch (access) {
            case "PUBLIC" -> true;
            case "ANY_TOKEN" -> !who.equals("none");
            case "METRICS" -> Set.of("admin", "metrics").contains(who);
            case "ADMIN" -> who.equals("admin");
            case "NODE_OR_ADMIN" -> Set.of("admin", "node-a").contains(who);
            case "NODE_SELF" -> who.equals("node-a");
            case "ANY_NODE" -> who.startsWith("node-");
            case "TENANT_LIST" -> Set.of("admin", "t1-admin", "t1-read", "t2-admin").contains(who);
            case "TENANT_READ" -> Set.of("admin", "t1-admin", "t1-read").contains(who);
            case "TENANT_WRITE" -> Set.of("admin", "t1-admin").contains(who);
            case "CATALOG_READ" -> !Set.of("none", "metrics").contains(who);
            case "ANY_NODE_OR_ADMIN" -> Set.of("admin", "node-a", "node-b").contains(who);
            default -> throw new IllegalArgumentException("unknown access " + access);
        };
    }

    private String concrete(String path) {
        return path.replace("{tenant}", "t1").replace("{pool}", "p").replace("{id}", instance)
                .replace("{node}", "node-a").replace("{job_id}", "j1").replace("{token}", "no-such-token")
                .replace("{template}", "no-such-worker").replace("{revision}", "0".repeat(64))
                .replace("{digest}", "sha256:" + "0".repeat(64));
    }

    /** {@code callersTenant}: the resource's tenant is the caller's own (submitting a job). */
    record Route(String method, String path, String access, boolean callersTenant) {}

    @Test
    void everyRouteAllowsExactlyWhatItsDeclaredAccessSaysForEveryKindOfToken() {
        JsonNode doc = admin.get("/openapi.json").json();
        List<Route> routes = new ArrayList<>();
        doc.get("paths").properties().forEach(p -> p.getValue().properties().forEach(op -> {
            if (Set.of("get", "post", "put", "patch", "delete").contains(op.getKey())) {
                routes.add(new Route(op.getKey().toUpperCase(), p.getKey(), op.getValue().get("x-mvm-access").asText(),
                        "callers-tenant".equals(op.getValue().path("x-mvm-scope").asText())));
            }
        }));
        Set<String> documented = new TreeSet<>();
        routes.forEach(r -> documented.add(r.method() + " " + r.path() + " " + r.access()));
        assertThat(new TreeSet<>(coordinator.api().accessRules())).as("server table = document").isEqualTo(documented);

        // Deleting the job would take the scope of later routes away: it goes last.
        routes.sort(Comparator.comparing((Route r) -> r.method().equals("DELETE") && r.path().startsWith("/vms")));
        List<String> wrong = new ArrayList<>();
        for (Route route : routes) {
            // Those refused first: an allowed DELETE would take the resource from under the others.
            List<Map.Entry<String, ApiClient>> order = new ArrayList<>(callers.entrySet());
            order.sort(Comparator.comparing((Map.Entry<String, ApiClient> c) -> allowed(route.access(), c.getKey())));
            for (var c : order) {
                Map<String, String> headers = Map.of("If-Match", "\"999999\""); // DELETE/PATCH: never really change
                Response r = c.getValue().send(route.method(), concrete(route.path()),
                        Set.of("POST", "PATCH").contains(route.method()) ? Map.of() : null, headers);
                boolean expected = route.callersTenant() && c.getKey().equals("t2-admin")
                        ? true : allowed(route.access(), c.getKey());
                boolean refused = r.status() == 401 || r.status() == 403;
                if (expected == refused) {
                    wrong.add(route.method() + " " + route.path() + " as " + c.getKey() + ": " + r.status() + " "
                            + r.body().lines().findFirst().orElse(""));
                }
                if (!expected) {
                    assertThat(r.status()).as(route + " as " + c.getKey()).isEqualTo(c.getKey().equals("none") ? 401 : 403);
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    @Test
    void tenantTokensSeeOnlyTheirTenantAndSubmitOnlyForIt() {
        ApiClient t2 = callers.get("t2-admin");
        assertThat(t2.get("/v1/tenants").json().get("items").findValuesAsText("id")).containsExactly("t2");
        assertThat(t2.get("/vms").json().get("items")).isEmpty();
        assertThat(t2.get("/stats").json().get("summary").get("total_jobs").asInt()).isZero();
        assertThat(callers.get("t1-read").get("/vms").json().get("items").findValuesAsText("job_id")).containsExactly("j1");
        Map<String, Object> spec = Map.of("cmd", List.of("x"), "resources", Map.of("vcpu", 1, "mem_mb", 64),
                "lifecycle", "job");
        Response own = t2.post("/vms", Map.of("job_id", "j2", "spec", spec));
        assertThat(own.status()).as(own.toString()).isEqualTo(202);
        assertThat(own.json().get("tenant").asText()).as("a tenant token's jobs are its tenant's").isEqualTo("t2");
        assertThat(t2.post("/vms", Map.of("job_id", "j3", "tenant", "t1", "spec", spec)).status()).isEqualTo(403);
        // An existing job of another tenant cannot be taken over under its id.
        assertThat(t2.post("/vms", Map.of("job_id", "j1", "spec", spec)).status()).isEqualTo(409);
        assertThat(t2.post("/v1/tenants/t2/pools", Map.of("name", "q", "profile", "m", "flake", ".", "vcpus", 1,
                "memory_mib", 64)).status()).isEqualTo(201);
        // Tokens are listed without secrets; a revoked one is refused from its next request.
        JsonNode listed = admin.get("/v1/tokens").json().get("items");
        assertThat(listed).hasSize(4);
        assertThat(listed.toString()).doesNotContain("mvmt_").doesNotContain("mvmm_");
        String t2id = null;
        for (JsonNode t : listed) {
            if ("t2".equals(t.path("tenant").asText())) {
                t2id = t.get("id").asText();
            }
        }
        assertThat(admin.delete("/v1/tokens/" + t2id, Map.of()).status()).isEqualTo(204);
        assertThat(t2.get("/v1/tenants/t2").status()).isEqualTo(401);
        assertThat(admin.get("/v1/audit?limit=1000").body()).contains("token.create").contains("token.revoke");
        assertThat(admin.post("/v1/tokens", Map.of("kind", "tenant", "tenant", "nope", "role", "tenant-read")).status())
                .isEqualTo(404);
        assertThat(admin.post("/v1/tokens", Map.of("kind", "tenant", "tenant", "t1", "role", "owner")).json()
                .get("detail").asText()).contains("role must be tenant-admin or tenant-read");
    }
}
