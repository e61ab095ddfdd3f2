package io.mvm.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.coordinator.testing.ApiClient;
import io.mvm.coordinator.testing.CrashTarget;
import io.mvm.coordinator.testing.TestDatabase;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A coordinator in a separate JVM is killed with SIGKILL right after acknowledging writes; a new
 * coordinator on the same database must find every acknowledged change.
 */
abstract class CrashSafetyContract {
    private TestDatabase db;
    private Process child;

    abstract TestDatabase.Kind kind();

    @BeforeEach
    void setUp() {
        db = kind().create();
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        if (child != null && child.isAlive()) {
            child.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
        db.close();
    }

    private int startChild(Path dataDir) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), CrashTarget.class.getName(), db.location(),
                dataDir.toString()));
        child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<Integer> port = CompletableFuture.supplyAsync(() -> {
            try {
                for (String line; (line = out.readLine()) != null; ) {
                    if (line.startsWith("PORT ")) {
                        // Keep draining so the child never blocks on a full pipe.
                        Thread.ofVirtual().start(() -> out.lines().forEach(l -> { }));
                        return Integer.parseInt(line.substring(5).strip());
                    }
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            throw new IllegalStateException("coordinator process exited before listening");
        });
        return port.get(120, TimeUnit.SECONDS);
    }

    @Test
    void acknowledgedWritesSurviveSigkill() throws Exception {
        Path dataDir = db.dataDir();
        int port = startChild(dataDir);
        ApiClient api = new ApiClient(port, Files.readString(CoordinatorConfig.adminTokenFile(dataDir)).strip());

        assertThat(api.post("/v1/tenants", Map.of("id", "acme", "max_vcpus", 32)).status()).isEqualTo(201);
        assertThat(api.post("/v1/tenants/acme/pools", Map.of("name", "web", "profile", "minimal", "flake", ".",
                "vcpus", 2, "memory_mib", 512, "running", 3, "warm", 1)).status()).isEqualTo(201);
        assertThat(api.patch("/v1/tenants/acme/pools/web", Map.of("running", 4), Map.of()).status()).isEqualTo(200);
        JsonNode items = api.get("/v1/tenants/acme/instances").json().get("items");
        String stopped = null;
        for (JsonNode i : items) {
            if (i.get("desired_state").asText().equals("running")) {
                stopped = i.get("id").asText();
            }
        }
        assertThat(api.post("/v1/instances/" + stopped + "/stop", null).status()).isEqualTo(200);
        List<String> ids = new ArrayList<>();
        List<String> ips = new ArrayList<>();
        api.get("/v1/tenants/acme/instances").json().get("items").forEach(i -> {
            ids.add(i.get("id").asText());
            ips.add(i.get("ip").asText());
        });
        String subnet = api.get("/v1/tenants/acme").json().get("subnet").asText();

        child.destroyForcibly();
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(child.exitValue()).as("killed by SIGKILL").isEqualTo(137);

        try (Coordinator reopened = Coordinator.start(CoordinatorConfig.defaults(dataDir).withDatabase(db.url())
                .withListen("127.0.0.1", 0))) {
            assertThat(reopened.createdTokenFile()).as("the admin token survives too").isEmpty();
            ApiClient again = new ApiClient(reopened.port(), Files.readString(reopened.adminTokenFile()).strip());
            assertThat(again.get("/v1/tenants/acme").json().get("subnet").asText()).isEqualTo(subnet);
            JsonNode pool = again.get("/v1/tenants/acme/pools/web").json();
            assertThat(pool.get("desired").get("running").asInt()).isEqualTo(3);
            assertThat(pool.get("desired").get("warm").asInt()).isEqualTo(1);
            assertThat(pool.get("desired").get("stopped").asInt()).isEqualTo(1);
            List<String> idsAfter = new ArrayList<>();
            List<String> ipsAfter = new ArrayList<>();
            again.get("/v1/tenants/acme/instances").json().get("items").forEach(i -> {
                idsAfter.add(i.get("id").asText());
                ipsAfter.add(i.get("ip").asText());
            });
            assertThat(idsAfter).containsExactlyInAnyOrderElementsOf(ids);
            assertThat(ipsAfter).containsExactlyInAnyOrderElementsOf(ips);
            assertThat(again.get("/v1/instances/" + stopped).json().get("desired_state").asText()).isEqualTo("stopped");
            assertThat(again.get("/v1/tenants/acme/audit?limit=1000").json().get("entries").findValuesAsText("action"))
                    .contains("tenant.create", "pool.create", "pool.update", "instance.stop");
        }
    }
}
