package io.mvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;

/** The real picocli commands against a real coordinator (SQLite) on a random port. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CoordinatorCliIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private Path dataDir;
    private Coordinator coordinator;
    private String url;

    record Run(int exit, String out, String err) {
        JsonNode json() {
            try {
                return JSON.readTree(out);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + out, e);
            }
        }
    }

    @BeforeAll
    void start() throws IOException {
        dataDir = Files.createTempDirectory("mvm-cli-it-");
        coordinator = Coordinator.start(CoordinatorConfig.defaults(dataDir).withListen("127.0.0.1", 0));
        url = "http://127.0.0.1:" + coordinator.port();
    }

    @AfterAll
    void stop() throws IOException {
        try {
            if (coordinator != null) {
                coordinator.stop();
            }
        } finally {
            try (Stream<Path> walk = Files.walk(dataDir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private Run mvm(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--coordinator-url=" + url);
        all.add("--data-dir=" + dataDir);
        return raw(all.toArray(String[]::new));
    }

    private static Run raw(String... args) {
        CommandLine cli = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void tenantCommands() {
        Run created = mvm("tenant", "create", "acme", "--max-vcpus", "16", "--max-mem", "16384", "--max-instances", "20");
        assertThat(created.exit()).as(created.err()).isZero();
        assertThat(created.out()).contains("tenant:    acme").contains("subnet:    10.24");

        Run list = mvm("tenant", "list");
        assertThat(list.out().lines().findFirst().orElseThrow()).startsWith("TENANT").contains("SUBNET").contains("NET_ID");
        assertThat(list.out()).contains("acme");
        JsonNode json = mvm("tenant", "list", "--json").json();
        assertThat(json.get("items").findValuesAsText("id")).contains("acme");

        JsonNode info = mvm("tenant", "info", "acme", "--json").json();
        assertThat(info.get("quota").get("max_vcpus").asInt()).isEqualTo(16);
        assertThat(mvm("tenant", "info", "acme").out()).contains("vcpus:     0 / 16");

        Run dup = mvm("tenant", "create", "acme");
        assertThat(dup.exit()).isEqualTo(ExitCodes.of(io.mvm.model.ErrorCategory.ALREADY_EXISTS));
        assertThat(dup.err().strip()).isEqualTo("error: tenant 'acme' already exists");

        Run missing = mvm("tenant", "info", "nope");
        assertThat(missing.exit()).isEqualTo(3);
        assertThat(missing.err().strip()).isEqualTo("error: tenant 'nope' not found");

        Run bad = mvm("tenant", "create", "Bad_Name");
        assertThat(bad.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(bad.err()).startsWith("error: invalid tenant id 'Bad_Name'");
    }

    @Test
    void poolAndInstanceCommands() {
        assertThat(mvm("tenant", "create", "shop", "--max-vcpus", "6").exit()).isZero();
        Run gw = mvm("pool", "create", "shop/gateways", "--flake", ".", "--profile", "minimal", "--role", "gateway",
                "--cpus", "2", "--mem", "1024");
        assertThat(gw.exit()).as(gw.err()).isZero();
        assertThat(gw.out()).contains("role:      gateway (priority 0)").contains("config");
        Run workers = mvm("pool", "create", "shop/workers", "--flake", ".", "--profile", "python", "--cpus", "1",
                "--mem", "512", "--json");
        assertThat(workers.json().get("role").asText()).isEqualTo("worker");
        assertThat(workers.json().get("on_node_lost").asText()).isEqualTo("auto");
        Run recreate = mvm("pool", "create", "shop/stateless", "--flake", ".", "--profile", "m", "--cpus", "1",
                "--mem", "64", "--data-disk", "0", "--on-node-lost", "recreate", "--json");
        assertThat(recreate.exit()).as(recreate.err()).isZero();
        assertThat(recreate.json().get("on_node_lost").asText()).isEqualTo("recreate");
        assertThat(mvm("pool", "destroy", "shop/stateless").exit()).isZero();

        Run list = mvm("pool", "list", "shop");
        List<String> lines = list.out().lines().toList();
        assertThat(lines.getFirst()).startsWith("POOL").contains("ROLE");
        assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("gateways").contains("gateway"));
        assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("workers").contains("worker"));

        Run scaled = mvm("pool", "scale", "shop/workers", "--running", "3", "--warm", "1", "--sleeping", "0");
        assertThat(scaled.exit()).as(scaled.err()).isZero();
        assertThat(scaled.out()).contains("desired:   running 3, warm 1, sleeping 0");
        assertThat(mvm("pool", "info", "shop/workers", "--json").json().get("desired").get("running").asInt()).isEqualTo(3);

        Run quota = mvm("pool", "scale", "shop/workers", "--running", "7");
        assertThat(quota.exit()).isEqualTo(6);
        assertThat(quota.err().strip()).isEqualTo("error: quota max_vcpus exceeded: limit 6, requested 8, in use 4");

        Run noCounts = mvm("pool", "scale", "shop/workers");
        assertThat(noCounts.exit()).isEqualTo(ExitCodes.USAGE);

        Run instances = mvm("instance", "list", "shop");
        assertThat(instances.out().lines().findFirst().orElseThrow()).startsWith("INSTANCE").contains("DESIRED").contains("IP");
        JsonNode items = mvm("instance", "list", "shop", "--json").json().get("items");
        assertThat(items).hasSize(4);
        String running = null;
        for (JsonNode i : items) {
            if (i.get("desired_state").asText().equals("running")) {
                running = i.get("id").asText();
            }
        }
        assertThat(mvm("instance", "info", running).out()).contains("desired:  running").contains("state:    pending");
        assertThat(mvm("instance", "stop", running, "--json").json().get("desired_state").asText()).isEqualTo("stopped");
        Run sleepStopped = mvm("instance", "sleep", running);
        assertThat(sleepStopped.exit()).isEqualTo(4);
        assertThat(sleepStopped.err()).startsWith("error: cannot sleep an instance that is stopped");
        assertThat(mvm("instance", "start", running).out()).contains("desired:  running");
        assertThat(mvm("instance", "warm", running).out()).contains("desired:  warm");
        assertThat(mvm("instance", "sleep", running).out()).contains("desired:  sleeping");
        assertThat(mvm("instance", "wake", running).out()).contains("desired:  running");
        Run notLost = mvm("instance", "evacuate", running);
        assertThat(notLost.exit()).isEqualTo(ExitCodes.of(io.mvm.model.ErrorCategory.FAILED_PRECONDITION));
        assertThat(notLost.err()).contains("evacuate only moves instances off a lost node");

        assertThat(mvm("pool", "info", "shop/workers").out()).contains("node lost: auto");
        Run wait = mvm("pool", "set", "shop/workers", "--on-node-lost", "wait");
        assertThat(wait.exit()).as(wait.err()).isZero();
        assertThat(wait.out()).contains("node lost: wait");
        Run bogus = mvm("pool", "set", "shop/workers", "--on-node-lost", "sometimes");
        assertThat(bogus.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(bogus.err().strip()).isEqualTo("error: on_node_lost must be one of auto, wait, recreate, got 'sometimes'");
        Run destroyed = mvm("instance", "destroy", running);
        assertThat(destroyed.exit()).as(destroyed.err()).isZero();
        assertThat(destroyed.out()).contains("destroyed");
        assertThat(mvm("instance", "info", running).exit()).isEqualTo(3);
        assertThat(mvm("instance", "info", "NOT_AN_ID").exit()).isEqualTo(ExitCodes.USAGE);

        Run refused = mvm("tenant", "destroy", "shop");
        assertThat(refused.exit()).isEqualTo(4);
        assertThat(refused.err()).contains("still has 3 instance(s)");
        assertThat(mvm("pool", "destroy", "shop/workers").exit()).isZero();
        assertThat(mvm("pool", "info", "shop/workers").exit()).isEqualTo(3);
        assertThat(mvm("tenant", "destroy", "shop", "--force").out()).contains("tenant shop destroyed");
    }

    @Test
    void connectionRefusedNamesTheUrl() throws IOException {
        int freePort;
        try (ServerSocket s = new ServerSocket(0)) {
            freePort = s.getLocalPort();
        }
        Run r = raw("tenant", "list", "--coordinator-url", "http://127.0.0.1:" + freePort, "--data-dir", dataDir.toString());
        assertThat(r.exit()).isEqualTo(ExitCodes.of(io.mvm.model.ErrorCategory.UNAVAILABLE));
        assertThat(r.err()).startsWith("error: cannot reach the coordinator at http://127.0.0.1:" + freePort);
        assertThat(r.err().lines().count()).isEqualTo(1);
    }

    @Test
    void missingOrWrongTokenIsAClearError() throws IOException {
        Path empty = Files.createTempDirectory("mvm-cli-empty-");
        try {
            Run r = raw("tenant", "list", "--coordinator-url", url, "--data-dir", empty.toString());
            assertThat(r.exit()).isEqualTo(8);
            assertThat(r.err()).startsWith("error: no token").contains(empty.resolve("coordinator/admin.token").toString());
            Files.createDirectories(empty.resolve("coordinator"));
            Files.writeString(empty.resolve("coordinator/admin.token"), "mvm_wrong\n");
            Run wrong = raw("tenant", "list", "--coordinator-url", url, "--data-dir", empty.toString());
            assertThat(wrong.exit()).isEqualTo(8);
            assertThat(wrong.err().strip()).isEqualTo("error: invalid or revoked token");
        } finally {
            try (Stream<Path> walk = Files.walk(empty)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void coordinatorStartRejectsBadOptionsBeforeStarting() {
        Run badListen = raw("coordinator", "start", "--listen", "nowhere", "--data-dir", dataDir.toString());
        assertThat(badListen.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(badListen.err()).startsWith("error: invalid listen address 'nowhere'");
        Run badCidr = raw("coordinator", "start", "--cluster-cidr", "10.0.0.1/12", "--data-dir", dataDir.toString());
        assertThat(badCidr.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(badCidr.err()).contains("host bits");
        Run badDb = raw("coordinator", "start", "--db", "mysql://x/y", "--data-dir", dataDir.toString());
        assertThat(badDb.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(badDb.err()).contains("unsupported database URL");
        Run noPostgres = raw("coordinator", "start", "--db", "postgresql://mvm:hunter2@127.0.0.1:1/fleet",
                "--listen", "127.0.0.1:0", "--data-dir", dataDir.toString());
        assertThat(noPostgres.exit()).isEqualTo(ExitCodes.of(io.mvm.model.ErrorCategory.UNAVAILABLE));
        assertThat(noPostgres.err()).startsWith("error: cannot connect to database jdbc:postgresql://127.0.0.1:1/fleet")
                .doesNotContain("hunter2");
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void listsArePagedThroughAndLimitCapsThem() throws Exception {
        // More tenants than the API's largest page, made over HTTP (a thousand CLI runs would be slow).
        String token = Files.readString(coordinator.adminTokenFile()).strip();
        var http = java.net.http.HttpClient.newHttpClient();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            List<java.util.concurrent.Future<Integer>> made = new ArrayList<>();
            for (int i = 0; i < 1010; i++) {
                String body = "{\"id\":\"many-%04d\"}".formatted(i);
                made.add(pool.submit(() -> {
                    var request = java.net.http.HttpRequest.newBuilder(java.net.URI.create(url + "/v1/tenants"))
                            .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                            .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build();
                    // The API's per-token rate limit answers a fast burst with 429 + Retry-After: honoured.
                    int status;
                    while ((status = http.send(request, java.net.http.HttpResponse.BodyHandlers.discarding())
                            .statusCode()) == 429) {
                        Thread.sleep(1000);
                    }
                    return status;
                }));
            }
            for (var f : made) {
                assertThat(f.get()).isEqualTo(201);
            }
        }
        JsonNode all = mvm("tenant", "list", "--json").json();
        List<String> ids = all.get("items").findValuesAsText("id");
        assertThat(ids.stream().filter(id -> id.startsWith("many-"))).hasSize(1010);
        assertThat(ids).doesNotHaveDuplicates();
        assertThat(all.has("next")).isFalse();
        assertThat(mvm("tenant", "list").out().lines().filter(l -> l.startsWith("many-"))).hasSize(1010);

        JsonNode five = mvm("tenant", "list", "--json", "--limit", "5").json();
        assertThat(five.get("items")).hasSize(5);
        assertThat(five.get("items").findValuesAsText("id")).isEqualTo(ids.subList(0, 5));
        assertThat(mvm("tenant", "list", "--json", "--limit", "1002").json().get("items")).hasSize(1002);

        Run bad = mvm("tenant", "list", "--limit", "0");
        assertThat(bad.exit()).isNotZero();
        assertThat(bad.err()).contains("--limit must be at least 1").doesNotContain("Exception");
    }
}
