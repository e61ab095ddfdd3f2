package io.mvm.cli.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.cli.Main;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two {@code mvm coordinator start --db postgresql://...} processes on one (embedded) PostgreSQL:
 * one leads; kill -9 of the leader hands the lease to the other within 10 s (judged by the
 * coordinators' own lease times), which goes on scheduling; nothing is ever placed twice.
 */
class LeaderFailoverProcessIT {
    private static final Pattern LISTENING = Pattern.compile("coordinator listening on (http://127\\.0\\.0\\.1:\\d+) ");
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private final List<Process> children = new ArrayList<>();
    private EmbeddedPostgres pg;
    private volatile boolean heartbeating = true;

    @TempDir
    Path tmp;

    @AfterEach
    void stop() throws Exception {
        heartbeating = false;
        for (Process p : children) {
            if (p.isAlive()) {
                p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
        if (pg != null) {
            pg.close();
        }
    }

    private record Coord(Process process, String url) {}

    @Test
    void killingTheLeaderHandsTheLeaseToTheOtherCoordinatorAndNothingIsPlacedTwice() throws Exception {
        pg = EmbeddedPostgres.builder().start();
        try (Connection c = pg.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE leader_it");
        }
        String db = "postgresql://postgres@localhost:" + pg.getPort() + "/leader_it";
        Path data = tmp.resolve("data");
        Coord first = start(db, data);
        Coord second = start(db, data);
        String admin = Files.readString(data.resolve("coordinator").resolve("admin.token")).strip();

        JsonNode status = get(second.url(), "/v1/coordinators", admin);
        assertThat(status.get("items")).hasSize(2);
        String leaderId = status.get("lease").get("leader").asText();
        long epoch = status.get("lease").get("epoch").asLong();
        Coord leader = first;
        Coord follower = second;
        // answered_by names the coordinator that answered: the leader is the one answering with its own id.
        if (!get(first.url(), "/v1/coordinators", admin).get("answered_by").asText().equals(leaderId)) {
            leader = second;
            follower = first;
        }
        assertThat(get(leader.url(), "/v1/coordinators", admin).get("answered_by").asText()).isEqualTo(leaderId);

        // A node (heartbeating through whichever coordinator answers) and a pool placed on it.
        String nodeToken = post(follower.url(), "/v1/node-tokens", admin, Map.of("node_id", "leader-it-node"))
                .get("token").asText();
        List<String> urls = List.of(first.url(), second.url());
        post(follower.url(), "/v1/nodes/register", nodeToken, Map.of("node_id", "leader-it-node",
                "capacity", Map.of("vcpus", 64, "memory_mib", 65536, "disk_mib", 100_000), "labels", Map.of(),
                "accelerator", "tcg"));
        Thread.ofVirtual().start(() -> {
            while (heartbeating) {
                for (String u : urls) {
                    try {
                        send(u, "POST", "/v1/nodes/leader-it-node/heartbeat", nodeToken, Map.of());
                        break;
                    } catch (Exception e) {
                        // that coordinator is gone: the next one
                    }
                }
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        post(follower.url(), "/v1/tenants", admin, Map.of("id", "lit", "max_instances", 100, "max_vcpus", 100,
                "max_memory_mib", 100_000));
        post(follower.url(), "/v1/tenants/lit/pools", admin, Map.of("name", "w", "profile", "minimal", "flake", ".",
                "vcpus", 1, "memory_mib", 128, "running", 5));
        // Written through the follower, placed by the leader's loop.
        Coord survivor = follower;
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertPlacedOnce(survivor.url(), nodeToken, 5));

        // kill -9 the leader.
        Instant lastRenewal = Instant.parse(get(follower.url(), "/v1/coordinators", admin).get("lease")
                .get("renewed_at").asText());
        leader.process().destroyForcibly();
        assertThat(leader.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() ->
                get(survivor.url(), "/v1/coordinators", admin).get("lease").get("epoch").asLong() > epoch);
        JsonNode after = get(survivor.url(), "/v1/coordinators", admin);
        assertThat(after.get("lease").get("leader").asText()).isEqualTo(after.get("answered_by").asText())
                .isNotEqualTo(leaderId);
        assertThat(after.get("lease").get("epoch").asLong()).isEqualTo(epoch + 1);
        Duration takeover = Duration.between(lastRenewal, Instant.parse(after.get("lease").get("leader_since").asText()));
        assertThat(takeover).as("from the dead leader's last renewal to the new term").isLessThanOrEqualTo(
                Duration.ofSeconds(10));

        // The new leader schedules: a scale-up through it is placed, still nothing twice.
        send(survivor.url(), "PATCH", "/v1/tenants/lit/pools/w", admin, Map.of("running", 8));
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertPlacedOnce(survivor.url(), nodeToken, 8));

        // And the CLI shows it.
        Process cli = java(Map.of("MVM_COORDINATOR_URL", survivor.url(), "MVM_TOKEN", admin), "coordinator", "status");
        String out = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(cli.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(cli.exitValue()).as(out).isZero();
        assertThat(out).contains("leader: " + after.get("lease").get("leader").asText())
                .contains("lease epoch " + (epoch + 1)).contains("stale");
    }

    /** Every instance of the pool placed on the node exactly once, and the node's list without duplicates. */
    private void assertPlacedOnce(String url, String nodeToken, int count) throws Exception {
        JsonNode desired = get(url, "/v1/nodes/leader-it-node/desired", nodeToken);
        List<String> ids = desired.get("instances").findValuesAsText("id");
        Set<String> unique = new HashSet<>(ids);
        assertThat(unique).as("no instance twice in the node's list").hasSameSizeAs(ids);
        assertThat(ids).hasSize(count);
    }

    private Coord start(String db, Path data) throws Exception {
        // Plain HTTP: leadership is what is tested here (TLS has ControlChannelIT and CoordinatorProcessIT).
        Process p = java(Map.of(), "coordinator", "start", "--db", db, "--data-dir", data.toString(),
                "--listen", "127.0.0.1:0", "--insecure");
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<Coord> ready = CompletableFuture.supplyAsync(() -> {
            StringBuilder banner = new StringBuilder();
            String url = null;
            try {
                for (String line; (line = out.readLine()) != null; ) {
                    banner.append(line).append('\n');
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        url = m.group(1);
                    }
                    if (line.startsWith("nodes are marked lost")) {
                        Thread.ofVirtual().start(() -> out.lines().forEach(l -> { }));
                        return new Coord(p, url);
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            throw new IllegalStateException("coordinator exited before it was ready:\n" + banner);
        });
        return ready.get(120, TimeUnit.SECONDS);
    }

    private Process java(Map<String, String> env, String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("MVM_TOKEN");
        pb.environment().remove("MVM_COORDINATOR_URL");
        pb.environment().remove("MVM_DATA_DIR");
        pb.environment().remove("MVM_DB");
        pb.environment().putAll(env);
        Process p = pb.start();
        children.add(p);
        return p;
    }

    private JsonNode get(String url, String path, String token) throws Exception {
        return send(url, "GET", path, token, null);
    }

    private JsonNode post(String url, String path, String token, Object body) throws Exception {
        return send(url, "POST", path, token, body);
    }

    private JsonNode send(String url, String method, String path, String token, Object body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException(method + " " + path + " -> " + r.statusCode() + " " + r.body());
        }
        return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
    }
}
