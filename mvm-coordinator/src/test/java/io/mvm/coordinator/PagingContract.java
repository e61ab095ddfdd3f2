package io.mvm.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.coordinator.testing.ApiClient;
import io.mvm.coordinator.testing.ApiClient.Response;
import io.mvm.coordinator.testing.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Lists that scale: 1,020 tenants walked page by page through the real API while more are being
 * created, on a coordinator of its own (the count of tenants matters here).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
abstract class PagingContract {
    private static final int TENANTS = 1020;
    private static final Pattern LINK = Pattern.compile("<([^>]+)>; rel=\"next\"");
    private TestDatabase db;
    private Coordinator coordinator;
    private ApiClient api;
    private final List<String> created = new ArrayList<>();

    abstract TestDatabase.Kind kind();

    @BeforeAll
    void start() throws Exception {
        db = kind().create();
        // Thousands of requests in seconds from one admin token: above the default per-token rate
        // (tested elsewhere, RequestFloodIT), so this coordinator allows them.
        coordinator = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0).withHttpLimits(new HttpLimits(1_000_000, 1_000_000, 10, 50, 256, 128, 4, 64)));
        api = new ApiClient(coordinator.port(), Files.readString(coordinator.adminTokenFile()).strip());
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<String>> made = new ArrayList<>();
            for (int i = 0; i < TENANTS; i++) {
                String id = "pg-%04d".formatted(i);
                made.add(pool.submit(() -> {
                    Response r = api.post("/v1/tenants", Map.of("id", id));
                    assertThat(r.status()).as(r.toString()).isEqualTo(201);
                    return id;
                }));
            }
            for (Future<String> f : made) {
                created.add(f.get());
            }
        }
    }

    @AfterAll
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

    @Test
    void walkingTheTenantsWhileOthersAreCreatedSeesEachOnceAndMissesNone() throws Exception {
        AtomicBoolean walking = new AtomicBoolean(true);
        AtomicInteger added = new AtomicInteger();
        List<String> seen = new ArrayList<>();
        int pages = 0;
        try (ExecutorService writer = Executors.newSingleThreadExecutor()) {
            Future<?> writes = writer.submit(() -> {
                // Ids that sort before, between and after the walked ones.
                while (walking.get() && added.get() < 300) {
                    int n = added.getAndIncrement();
                    String id = switch (n % 3) {
                        case 0 -> "a-new-%04d".formatted(n);
                        case 1 -> "pg-%04d-new".formatted((n * 7) % TENANTS);
                        default -> "zz-new-%04d".formatted(n);
                    };
                    assertThat(api.post("/v1/tenants", Map.of("id", id)).status()).isEqualTo(201);
                }
            });
            String path = "/v1/tenants?limit=100";
            while (path != null) {
                Response r = api.get(path);
                assertThat(r.status()).as(r.toString()).isEqualTo(200);
                JsonNode body = r.json();
                assertThat(body.get("items").size()).isBetween(1, 100);
                body.get("items").forEach(t -> seen.add(t.get("id").asText()));
                pages++;
                String link = r.header("link");
                if (body.hasNonNull("next")) {
                    Matcher m = LINK.matcher(link);
                    assertThat(m.matches()).as(link).isTrue();
                    assertThat(m.group(1)).startsWith("/v1/tenants?").contains("limit=100")
                            .endsWith("cursor=" + body.get("next").asText());
                    path = m.group(1);
                } else {
                    assertThat(link).isNull();
                    path = null;
                }
            }
            walking.set(false);
            writes.get();
        }
        assertThat(new HashSet<>(seen)).as("no tenant twice").hasSize(seen.size());
        assertThat(seen).as("every tenant there for the whole walk").containsAll(created);
        assertThat(seen).as("in id order").isSorted();
        assertThat(pages).isGreaterThanOrEqualTo(TENANTS / 100);
    }

    @Test
    void theDefaultPageIsAHundredAndTheLargestAThousand() {
        JsonNode first = api.get("/v1/tenants").json();
        assertThat(first.get("items")).hasSize(100);
        assertThat(first.get("next").asText()).isNotBlank();
        JsonNode big = api.get("/v1/tenants?limit=1000").json();
        assertThat(big.get("items")).hasSize(1000);
        JsonNode rest = api.get("/v1/tenants?limit=1000&cursor=" + big.get("next").asText()).json();
        Set<String> all = new HashSet<>(big.findValuesAsText("id"));
        rest.get("items").forEach(t -> all.add(t.get("id").asText()));
        assertThat(all).containsAll(created);
    }

    @Test
    void badLimitsAndCursorsAreRefusedWithAProblem() {
        for (String query : List.of("limit=0", "limit=1001", "limit=-5", "limit=ten", "cursor=%25%25%25",
                "cursor=not-a-cursor", "cursor=" + Base64.getUrlEncoder().encodeToString("x:1".getBytes(
                        StandardCharsets.UTF_8)))) {
            for (String path : List.of("/v1/tenants", "/v1/nodes", "/v1/tokens", "/v1/templates", "/vms",
                    "/v1/routes", "/v1/audit", "/v1/tenants/pg-0001/pools", "/v1/tenants/pg-0001/instances",
                    "/v1/tenants/pg-0001/audit")) {
                Response r = api.get(path + "?" + query);
                assertThat(r.status()).as(path + "?" + query + " -> " + r).isEqualTo(400);
                assertThat(r.header("content-type")).startsWith("application/problem+json");
                assertThat(r.body()).doesNotContain("Exception");
            }
        }
    }

    @Test
    void poolsAndInstancesPageAndFilter() {
        String t = "pg-0002";
        for (String p : List.of("web", "api", "db")) {
            Response r = api.post("/v1/tenants/" + t + "/pools", Map.of("name", p, "profile", "minimal", "flake", ".",
                    "vcpus", 1, "memory_mib", 256, "running", 3));
            assertThat(r.status()).as(r.toString()).isEqualTo(201);
        }
        JsonNode first = api.get("/v1/tenants/" + t + "/pools?limit=2").json();
        assertThat(first.findValuesAsText("name")).containsExactly("api", "db");
        JsonNode second = api.get("/v1/tenants/" + t + "/pools?limit=2&cursor=" + first.get("next").asText()).json();
        assertThat(second.findValuesAsText("name")).containsExactly("web");
        assertThat(second.has("next")).isFalse();

        List<String> ids = new ArrayList<>();
        String cursor = null;
        do {
            JsonNode page = api.get("/v1/tenants/" + t + "/instances?limit=4"
                    + (cursor == null ? "" : "&cursor=" + cursor)).json();
            page.get("items").forEach(i -> ids.add(i.get("id").asText()));
            cursor = page.hasNonNull("next") ? page.get("next").asText() : null;
        } while (cursor != null);
        assertThat(ids).hasSize(9).doesNotHaveDuplicates().isSorted();
        JsonNode web = api.get("/v1/tenants/" + t + "/instances?pool=web").json();
        assertThat(web.get("items")).hasSize(3);
        web.get("items").forEach(i -> assertThat(i.get("pool").asText()).isEqualTo("web"));
        // No node has registered: every instance waits unplaced.
        assertThat(api.get("/v1/tenants/" + t + "/instances?state=running").json().get("items")).isEmpty();
        assertThat(api.get("/v1/tenants/" + t + "/instances?node=nowhere").json().get("items")).isEmpty();
        assertThat(api.get("/v1/tenants/" + t + "/instances?state=sideways").status()).isEqualTo(400);
    }

    @Test
    void auditPagesCarryACursorToo() {
        String t = "pg-0003";
        for (String p : List.of("a", "b", "c", "d")) {
            assertThat(api.post("/v1/tenants/" + t + "/pools", Map.of("name", p, "profile", "minimal", "flake", ".",
                    "vcpus", 1, "memory_mib", 256)).status()).isEqualTo(201);
        }
        String trail = "/v1/tenants/" + t + "/audit?limit=2";
        JsonNode first = api.get(trail).json();
        assertThat(first.get("entries")).hasSize(2);
        JsonNode byCursor = api.get(trail + "&cursor=" + first.get("next").asText()).json();
        JsonNode byAfter = api.get(trail + "&after=" + first.get("next_after").asLong()).json();
        assertThat(byCursor.get("entries")).hasSize(2).isEqualTo(byAfter.get("entries"));
        assertThat(byCursor.get("entries").get(0).get("seq").asLong())
                .isGreaterThan(first.get("entries").get(1).get("seq").asLong());
    }
}
