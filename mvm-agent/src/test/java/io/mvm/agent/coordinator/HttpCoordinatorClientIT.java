package io.mvm.agent.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.runtime.Orphan;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.Target;
import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.Role;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The wire contract of docs/agent-protocol.md, checked against a real HTTP server on loopback that
 * answers with the documented JSON and records what the client sends.
 */
class HttpCoordinatorClientIT {
    static final InstantSource CLOCK = InstantSource.fixed(Instant.parse("2026-11-21T12:00:00Z"));
    static final NodeId NODE = NodeId.of("node-a");
    static final String DESIRED_JSON = """
            {"generation": 42, "instances": [{
              "id": "acme-gw-1", "tenant": "acme", "pool": "gateways", "role": "gateway",
              "desired_state": "running", "vcpus": 1, "memory_mib": 512, "data_disk_mib": 1024,
              "ip": "10.240.0.11", "prefix": 24, "gateway": "10.240.0.1", "mac": null, "net_id": 1,
              "cmd": ["/bin/serve", "--port", "80"], "env": {"MODE": "prod"},
              "secrets": {"api-token": "s3cr3t"}, "config_files": {"gateway.json": "{}"},
              "revision": "r7", "some_future_field": true}]}
            """;

    final ObjectMapper json = new ObjectMapper();
    final List<Recorded> requests = new CopyOnWriteArrayList<>();
    final Map<String, Integer> forcedStatus = new ConcurrentHashMap<>();
    HttpServer server;
    HttpCoordinatorClient client;

    record Recorded(String method, String path, String query, String authorization, JsonNode body) {}

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.start();
        client = new HttpCoordinatorClient(URI.create("http://127.0.0.1:" + server.getAddress().getPort()),
                "join-token", Duration.ofSeconds(10), CLOCK);
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
    }

    void handle(HttpExchange ex) throws IOException {
        var raw = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        var path = ex.getRequestURI().getPath();
        requests.add(new Recorded(ex.getRequestMethod(), path, ex.getRequestURI().getQuery(),
                ex.getRequestHeaders().getFirst("Authorization"), raw.isEmpty() ? null : json.readTree(raw)));
        var forced = forcedStatus.get(path);
        if (forced != null) {
            respond(ex, forced, "application/problem+json",
                    "{\"title\":\"nope\",\"detail\":\"node token rejected\",\"status\":" + forced + "}");
            return;
        }
        switch (path) {
            case "/v1/nodes/register" -> respond(ex, 200, "application/json",
                    "{\"node_id\":\"node-a\",\"token\":\"node-token-1\",\"heartbeat_interval_secs\":5}");
            case "/v1/nodes/node-a/desired" -> respond(ex, 200, "application/json", DESIRED_JSON);
            default -> respond(ex, 204, null, "");
        }
    }

    static void respond(HttpExchange ex, int status, String type, String body) throws IOException {
        var bytes = body.getBytes(StandardCharsets.UTF_8);
        if (type != null) {
            ex.getResponseHeaders().add("Content-Type", type);
        }
        ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            ex.getResponseBody().write(bytes);
        }
        ex.close();
    }

    @Test
    void registersAndThenUsesTheIssuedNodeToken() throws Exception {
        var r = client.register(new NodeRegistration(NODE, new Capacity(8, 16_384, 200_000), Map.of("zone", "eu"),
                Accelerator.TCG, Optional.of(new RelayEndpoint(java.net.URI.create("http://127.0.0.1:41234"),
                        "agent-secret-1"))));
        client.heartbeat(NODE, 3);

        assertThat(r).isEqualTo(new Registration(NODE, Optional.of("node-token-1"), Duration.ofSeconds(5)));
        assertThat(r.toString()).doesNotContain("node-token-1");
        var register = requests.get(0);
        assertThat(register.method()).isEqualTo("POST");
        assertThat(register.authorization()).isEqualTo("Bearer join-token");
        assertThat(register.body()).isEqualTo(json.readTree("""
                {"node_id": "node-a", "capacity": {"vcpus": 8, "memory_mib": 16384, "disk_mib": 200000},
                 "labels": {"zone": "eu"}, "accelerator": "tcg",
                 "agent_url": "http://127.0.0.1:41234", "agent_token": "agent-secret-1"}"""));
        var heartbeat = requests.get(1);
        assertThat(heartbeat.path()).isEqualTo("/v1/nodes/node-a/heartbeat");
        assertThat(heartbeat.authorization()).isEqualTo("Bearer node-token-1");
        assertThat(heartbeat.body()).isEqualTo(json.readTree("""
                {"sent_at": "2026-11-21T12:00:00Z", "instance_count": 3}"""));
    }

    @Test
    void readsTheDesiredStateAndLongPollsWithTheGeneration() {
        var first = client.desired(NODE, OptionalLong.empty(), Duration.ofSeconds(30));
        client.desired(NODE, OptionalLong.of(42), Duration.ofSeconds(25));

        assertThat(first.generation()).isEqualTo(42);
        assertThat(first.authoritative()).isTrue();
        var d = first.instances().getFirst();
        assertThat(d.target()).isEqualTo(Target.RUNNING);
        assertThat(d.role()).isEqualTo(Role.GATEWAY);
        assertThat(d.spec().memoryMib()).isEqualTo(512);
        assertThat(d.spec().dataDiskMib()).isEqualTo(1024);
        assertThat(d.spec().network().ip()).isEqualTo("10.240.0.11");
        assertThat(d.spec().network().mac()).isEmpty();
        assertThat(d.spec().cmd()).containsExactly("/bin/serve", "--port", "80");
        assertThat(d.spec().secrets()).containsEntry("api-token", "s3cr3t");
        assertThat(d.spec().configFiles()).containsEntry("gateway.json", "{}");
        assertThat(d.spec().revision()).isEqualTo("r7");
        assertThat(requests.get(0).query()).isNull();
        assertThat(requests.get(1).query()).isEqualTo("after_generation=42&wait_secs=25");
    }

    @Test
    void reportsObservedStateInSnakeCase() throws Exception {
        var id = InstanceId.of("acme-gw-1");
        client.reportObserved(NODE, new ObservedReport(42, List.of(
                new InstanceReport(id, InstanceState.RUNNING, OptionalLong.of(4242), Accelerator.TCG, Optional.empty(),
                        List.of(new InstanceEvent(Instant.parse("2026-11-21T11:59:58Z"), id, "created", "booted"))),
                new InstanceReport(InstanceId.of("acme-w-2"), InstanceState.FAILED, OptionalLong.empty(),
                        Accelerator.TCG, Optional.of("the VMM exited unexpectedly; gave up after 5 restarts"),
                        List.of()))));

        var sent = requests.getFirst();
        assertThat(sent.path()).isEqualTo("/v1/nodes/node-a/observed");
        assertThat(sent.body()).isEqualTo(json.readTree("""
                {"desired_generation": 42, "instances": [
                  {"id": "acme-gw-1", "state": "running", "pid": 4242, "accelerator": "tcg",
                   "events": [{"time": "2026-11-21T11:59:58Z", "type": "created", "message": "booted"}]},
                  {"id": "acme-w-2", "state": "failed", "accelerator": "tcg",
                   "last_error": "the VMM exited unexpectedly; gave up after 5 restarts", "events": []}]}"""));
    }

    @Test
    void reportsTheNodesOrphanedDataAsANodeLevelArray() throws Exception {
        client.reportObserved(NODE, new ObservedReport(7, List.of(), Optional.of(List.of(new Orphan("acme-w-3",
                Path.of("/var/lib/mvm/orphans/acme-w-3-20261203T100000.000Z"), 67108864L,
                "not in the desired state of generation 7", Instant.parse("2026-12-03T10:00:00Z"))))));

        assertThat(requests.getFirst().body()).isEqualTo(json.readTree("""
                {"desired_generation": 7, "instances": [], "orphans": [
                  {"instance_id": "acme-w-3", "path": "/var/lib/mvm/orphans/acme-w-3-20261203T100000.000Z",
                   "bytes": 67108864, "reason": "not in the desired state of generation 7",
                   "at": "2026-12-03T10:00:00Z"}]}"""));
    }

    @Test
    void mapsHttpFailuresToErrorCategories() {
        forcedStatus.put("/v1/nodes/node-a/heartbeat", 401);
        forcedStatus.put("/v1/nodes/node-a/observed", 404);
        forcedStatus.put("/v1/nodes/node-a/desired", 503);

        assertThatThrownBy(() -> client.heartbeat(NODE, 0)).isInstanceOfSatisfying(MvmException.class, e -> {
            assertThat(e.category()).isEqualTo(ErrorCategory.UNAUTHENTICATED);
            assertThat(e.getMessage()).isEqualTo(
                    "coordinator answered 401 to POST /v1/nodes/node-a/heartbeat: node token rejected");
        });
        assertThatThrownBy(() -> client.reportObserved(NODE, new ObservedReport(1, List.of())))
                .isInstanceOfSatisfying(MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(ErrorCategory.NOT_FOUND));
        assertThatThrownBy(() -> client.desired(NODE, OptionalLong.empty(), Duration.ZERO))
                .isInstanceOfSatisfying(MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(ErrorCategory.UNAVAILABLE));
    }

    @Test
    void anUnreachableCoordinatorIsUnavailable() {
        server.stop(0);
        assertThatThrownBy(() -> client.heartbeat(NODE, 0)).isInstanceOfSatisfying(MvmException.class, e -> {
            assertThat(e.category()).isEqualTo(ErrorCategory.UNAVAILABLE);
            assertThat(e.retryable()).isTrue();
        });
    }

    @Test
    void rejectsBadSettingsUpFront() {
        assertThatThrownBy(() -> new HttpCoordinatorClient(URI.create("ftp://x"), "t", Duration.ofSeconds(1), CLOCK))
                .hasMessageContaining("must be http:// or https://");
        assertThatThrownBy(() -> new HttpCoordinatorClient(URI.create("http://x"), " ", Duration.ofSeconds(1), CLOCK))
                .hasMessageContaining("node token is required");
    }
}
