package io.mvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * {@code mvm node ...} and {@code mvm instance exec|logs} against a real coordinator (SQLite). The
 * node's agent is a loopback HTTP server in this test that answers exec like a guest would; the
 * real agent and real VMs are covered by the agent's end-to-end tests.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NodeCliIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String AGENT_TOKEN = "cli-agent-token-0123456789abcdef";
    private Path dataDir;
    private Coordinator coordinator;
    private HttpServer agent;
    private String url;
    private final HttpClient http = HttpClient.newHttpClient();

    record Run(int exit, String out, String err) {}

    @BeforeAll
    void start() throws IOException {
        dataDir = Files.createTempDirectory("mvm-node-cli-it-");
        coordinator = Coordinator.start(CoordinatorConfig.defaults(dataDir).withListen("127.0.0.1", 0));
        url = "http://127.0.0.1:" + coordinator.port();
        agent = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        // The coordinator presents the relay token it derives for the node, not one the agent sent.
        String relayToken = coordinator.controlChannel().relayToken(io.mvm.model.NodeId.of("cli-node"));
        agent.createContext("/", ex -> {
            try (ex) {
                boolean authorized = ("Bearer " + relayToken).equals(ex.getRequestHeaders().getFirst("Authorization"));
                String path = ex.getRequestURI().getPath();
                byte[] out;
                int status;
                if (!authorized) {
                    status = 401;
                    out = "{\"status\":401,\"detail\":\"bad token\"}".getBytes(StandardCharsets.UTF_8);
                } else if (path.endsWith("/logs")) {
                    status = 200;
                    out = "[    0.000000] Linux version 6.1\nguest ready\n".getBytes(StandardCharsets.UTF_8);
                } else {
                    JsonNode req = JSON.readTree(ex.getRequestBody());
                    List<String> argv = new ArrayList<>();
                    req.get("argv").forEach(a -> argv.add(a.asText()));
                    // "exit N" exits with N; anything else is echoed.
                    int code = argv.getFirst().equals("exit") ? Integer.parseInt(argv.get(1)) : 0;
                    String stdout = argv.getFirst().equals("cat")
                            ? new String(Base64.getDecoder().decode(req.path("stdin_b64").asText("")), StandardCharsets.UTF_8)
                            : code == 0 ? String.join(" ", argv) + "\n" : "";
                    String stderr = code == 0 ? "" : "failing with " + code + "\n";
                    status = 200;
                    out = JSON.writeValueAsBytes(Map.of("exit_code", code,
                            "stdout_b64", Base64.getEncoder().encodeToString(stdout.getBytes(StandardCharsets.UTF_8)),
                            "stderr_b64", Base64.getEncoder().encodeToString(stderr.getBytes(StandardCharsets.UTF_8)),
                            "timed_out", false));
                }
                ex.sendResponseHeaders(status, out.length);
                ex.getResponseBody().write(out);
            }
        });
        agent.start();
    }

    @AfterAll
    void stop() throws IOException {
        try {
            if (agent != null) {
                agent.stop(0);
            }
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
        int dashes = all.indexOf("--");
        int at = dashes < 0 ? all.size() : dashes;
        all.add(at, "--coordinator-url=" + url);
        all.add(at + 1, "--data-dir=" + dataDir);
        CommandLine cli = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(all.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    private int post(String token, String path, Object body) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create(url + path))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build();
        return http.send(r, HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    @Test
    void nodeListTokenCreateAndInstanceExecLogsInfo() throws Exception {
        Run token = mvm("node", "token", "create", "--node", "cli-node");
        assertThat(token.exit()).as(token.err()).isZero();
        String nodeToken = token.out().strip();
        assertThat(nodeToken).startsWith("mvmn_");
        assertThat(token.err()).contains("cli-node");
        assertThat(mvm("node", "token", "create", "--node", "Bad Node").exit()).isEqualTo(ExitCodes.USAGE);

        Run spare = mvm("node", "token", "create", "--node", "spare-node", "--json");
        JsonNode spareToken = JSON.readTree(spare.out());
        Run tokens = mvm("node", "token", "list");
        assertThat(tokens.exit()).as(tokens.err()).isZero();
        assertThat(tokens.out().lines().findFirst().orElseThrow()).startsWith("ID").contains("NODE", "CREATED", "REVOKED");
        assertThat(tokens.out()).contains(spareToken.get("id").asText()).contains("spare-node")
                .doesNotContain(spareToken.get("token").asText()).doesNotContain(nodeToken);
        Run revoke = mvm("node", "token", "revoke", spareToken.get("id").asText());
        assertThat(revoke.exit()).as(revoke.err()).isZero();
        assertThat(revoke.out()).contains("revoked");
        assertThat(post(spareToken.get("token").asText(), "/v1/nodes/register", Map.of("node_id", "spare-node",
                "capacity", Map.of("vcpus", 1, "memory_mib", 1024, "disk_mib", 1000), "accelerator", "tcg")))
                .isEqualTo(401);
        JsonNode listed = JSON.readTree(mvm("node", "token", "list", "--json").out());
        assertThat(listed.get("items")).anySatisfy(t -> {
            assertThat(t.get("id").asText()).isEqualTo(spareToken.get("id").asText());
            assertThat(t.get("revoked_at").isNull()).isFalse();
        });
        Run unknown = mvm("node", "token", "revoke", "00000000-0000-0000-0000-000000000000");
        assertThat(unknown.exit()).isEqualTo(ExitCodes.of(io.mvm.model.ErrorCategory.NOT_FOUND));
        assertThat(unknown.err()).contains("no node token");
        assertThat(mvm("node", "token", "revoke", "mvmn_looks/like-a-secret").exit()).isEqualTo(ExitCodes.USAGE);
        Run clusterAudit = mvm("audit", "--limit", "0");
        assertThat(clusterAudit.exit()).as(clusterAudit.err()).isZero();
        assertThat(clusterAudit.out().lines().findFirst().orElseThrow()).startsWith("SEQ").contains("ACTOR", "ACTION");
        assertThat(clusterAudit.out()).contains("node-token.create").contains("node-token.revoke")
                .contains("node-tokens/" + spareToken.get("id").asText()).doesNotContain(spareToken.get("token").asText());
        JsonNode firstTwo = JSON.readTree(mvm("audit", "--json", "--after", "0", "--limit", "2").out());
        assertThat(firstTwo.get("entries")).hasSize(2);
        assertThat(mvm("audit", "--limit", "-1").exit()).isEqualTo(ExitCodes.USAGE);

        assertThat(post(nodeToken, "/v1/nodes/register", Map.of("node_id", "cli-node",
                "capacity", Map.of("vcpus", 4, "memory_mib", 8192, "disk_mib", 50_000), "accelerator", "tcg",
                "agent_url", "http://127.0.0.1:" + agent.getAddress().getPort(), "agent_token", AGENT_TOKEN)))
                .isEqualTo(200);
        assertThat(mvm("tenant", "create", "clitest").exit()).isZero();
        Run tenantAudit = mvm("audit", "--tenant", "clitest");
        assertThat(tenantAudit.exit()).as(tenantAudit.err()).isZero();
        assertThat(tenantAudit.out()).contains("tenant.create").contains("tenants/clitest");
        assertThat(mvm("audit", "--tenant", "Not A Tenant").exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(mvm("pool", "create", "clitest/w", "--flake", ".", "--profile", "minimal", "--cpus", "1",
                "--mem", "256").exit()).isZero();
        assertThat(mvm("pool", "scale", "clitest/w", "--running", "1").exit()).isZero();

        Run list = mvm("node", "list");
        assertThat(list.exit()).as(list.err()).isZero();
        List<String> lines = list.out().lines().toList();
        assertThat(lines.getFirst()).startsWith("NODE").contains("STATUS").contains("UNDERLAY").contains("LAST HEARTBEAT");
        assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("cli-node").contains("ready").contains("1/4")
                .contains("256/8192"));
        JsonNode json = JSON.readTree(mvm("node", "list", "--json").out());
        assertThat(json.get("items").get(0).get("id").asText()).isEqualTo("cli-node");
        assertThat(json.toString()).doesNotContain(AGENT_TOKEN);

        String id = JSON.readTree(mvm("instance", "list", "clitest", "--json").out()).get("items").get(0).get("id")
                .asText();
        Run notRunning = mvm("instance", "exec", id, "--", "echo", "hi");
        assertThat(notRunning.exit()).isEqualTo(4);
        assertThat(notRunning.err()).contains("not running");

        assertThat(post(nodeToken, "/v1/nodes/cli-node/observed", Map.of("desired_generation", 1, "instances",
                List.of(Map.of("id", id, "state", "running", "pid", 99, "accelerator", "tcg", "events",
                        List.of(Map.of("time", "2026-11-21T12:00:00Z", "type", "started", "message", "booted")))))))
                .isEqualTo(204);

        Run echo = mvm("instance", "exec", id, "--", "echo", "hello", "world");
        assertThat(echo.exit()).as(echo.err()).isZero();
        assertThat(echo.out()).isEqualTo("echo hello world\n");
        Run failing = mvm("instance", "exec", id, "--timeout", "5", "--", "exit", "7");
        assertThat(failing.exit()).isEqualTo(7);
        assertThat(failing.err()).isEqualTo("failing with 7\n");
        assertThat(mvm("instance", "exec", id, "--timeout", "0", "--", "true").exit()).isEqualTo(ExitCodes.USAGE);

        java.io.InputStream realIn = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream("piped input\n".getBytes(StandardCharsets.UTF_8)));
            Run cat = mvm("instance", "exec", "-i", id, "--", "cat");
            assertThat(cat.exit()).as(cat.err()).isZero();
            assertThat(cat.out()).isEqualTo("piped input\n");
        } finally {
            System.setIn(realIn);
        }

        Run logs = mvm("instance", "logs", id, "--lines", "2");
        assertThat(logs.exit()).as(logs.err()).isZero();
        assertThat(logs.out()).isEqualTo("[    0.000000] Linux version 6.1\nguest ready\n");

        Path secret = dataDir.resolve("api-token.txt");
        Files.writeString(secret, "very-secret-value");
        Run gw = mvm("pool", "create", "clitest/gw", "--flake", ".", "--profile", "minimal", "--role", "gateway",
                "--cpus", "1", "--mem", "256", "--cmd", "/bin/serve", "--cmd", "--port=80", "--env", "MODE=prod",
                "--secret-file", "api-token=" + secret, "--config-file", "gateway.json=" + secret);
        assertThat(gw.exit()).as(gw.err()).isZero();
        assertThat(gw.out()).contains("cmd:       [\"/bin/serve\",\"--port=80\"]").contains("secrets:   [\"api-token\"]")
                .doesNotContain("very-secret-value");
        JsonNode gwJson = JSON.readTree(mvm("pool", "info", "clitest/gw", "--json").out());
        assertThat(gwJson.get("env").get("MODE").asText()).isEqualTo("prod");
        assertThat(gwJson.get("config_files").get("gateway.json").asText()).isEqualTo("very-secret-value");
        assertThat(gwJson.has("secrets")).isFalse();
        assertThat(mvm("pool", "create", "clitest/gw2", "--flake", ".", "--profile", "minimal", "--cpus", "1",
                "--mem", "256", "--secret-file", "k=/nonexistent/file").err()).contains("cannot read /nonexistent/file");

        Run info = mvm("instance", "info", id);
        assertThat(info.out()).contains("state:    running").contains("node:     cli-node").contains("pid:      99")
                .contains("events:").contains("started  booted");
    }
}
