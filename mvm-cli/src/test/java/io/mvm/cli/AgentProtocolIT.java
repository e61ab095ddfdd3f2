package io.mvm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.agent.coordinator.HttpCoordinatorClient;
import io.mvm.agent.coordinator.InstanceReport;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.core.reconcile.Target;
import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.Role;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The agent's real protocol client ({@link HttpCoordinatorClient}) against the real coordinator:
 * the two sides of docs/agent-protocol.md agree on every field.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AgentProtocolIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private Path dataDir;
    private Coordinator coordinator;
    private String adminToken;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        dataDir = Files.createTempDirectory("mvm-agent-protocol-it-");
        coordinator = Coordinator.start(CoordinatorConfig.defaults(dataDir).withListen("127.0.0.1", 0));
        adminToken = Files.readString(coordinator.adminTokenFile()).strip();
    }

    @AfterEach
    void stop() throws Exception {
        try {
            coordinator.stop();
        } finally {
            try (Stream<Path> walk = Files.walk(dataDir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private JsonNode admin(String method, String path, Object body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + coordinator.port() + path))
                .header("Authorization", "Bearer " + adminToken).header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isBetween(200, 299);
        return r.body().isEmpty() ? null : JSON.readTree(r.body());
    }

    @Test
    void theAgentsClientRegistersReadsDesiredStateAndReports() throws Exception {
        NodeId node = NodeId.of("proto-node");
        var client = new HttpCoordinatorClient(URI.create("http://127.0.0.1:" + coordinator.port()),
                coordinator.issueNodeToken(node), Duration.ofSeconds(10), InstantSource.system());
        var registration = client.register(new NodeRegistration(node, new Capacity(4, 8192, 100_000),
                Map.of("zone", "test"), Accelerator.TCG));
        assertThat(registration.node()).isEqualTo(node);
        assertThat(registration.heartbeatInterval()).isEqualTo(Duration.ofSeconds(5));
        client.heartbeat(node, 0);

        admin("POST", "/v1/tenants", Map.of("id", "proto"));
        Map<String, Object> pool = new java.util.HashMap<>(Map.of("name", "gw", "role", "gateway", "profile", "minimal",
                "flake", ".", "vcpus", 1, "memory_mib", 256, "data_disk_mib", 256, "running", 1));
        pool.putAll(Map.of("cmd", List.of("/bin/serve"), "env", Map.of("MODE", "test"), "secrets", Map.of("key", "v"),
                "config_files", Map.of("gateway.json", "{}")));
        admin("POST", "/v1/tenants/proto/pools", pool);

        DesiredSnapshot snapshot = client.desired(node, OptionalLong.empty(), Duration.ZERO);
        assertThat(snapshot.generation()).isPositive();
        assertThat(snapshot.instances()).hasSize(1);
        DesiredInstance d = snapshot.instances().getFirst();
        assertThat(d.target()).isEqualTo(Target.RUNNING);
        assertThat(d.spec().role()).isEqualTo(Role.GATEWAY);
        assertThat(d.spec().network().prefix()).isEqualTo(24);
        assertThat(d.spec().network().gateway()).endsWith(".1");
        assertThat(d.spec().network().mac()).isPresent();
        assertThat(d.spec().cmd()).containsExactly("/bin/serve");
        assertThat(d.spec().env()).containsEntry("MODE", "test");
        assertThat(d.spec().secrets()).containsEntry("key", "v");
        assertThat(d.spec().configFiles()).containsEntry("gateway.json", "{}");

        DesiredSnapshot same = client.desired(node, OptionalLong.of(snapshot.generation()), Duration.ofSeconds(1));
        assertThat(same.generation()).isEqualTo(snapshot.generation());

        InstanceId id = d.id();
        var event = new InstanceEvent(Instant.parse("2026-11-21T12:00:00Z"), id, "created", "booted");
        // A node-level orphan the coordinator does not use yet: node routes read bodies leniently.
        var orphan = new io.mvm.agent.runtime.Orphan("acme-old-1", java.nio.file.Path.of("/var/lib/mvm/orphans/x"), 1024,
                "not in the desired state of generation 1", Instant.parse("2026-11-21T12:00:00Z"));
        var report = new ObservedReport(snapshot.generation(), List.of(new InstanceReport(id, InstanceState.RUNNING,
                OptionalLong.of(4242), Accelerator.TCG, Optional.empty(), List.of(event))), Optional.of(List.of(orphan)));
        client.reportObserved(node, report);
        client.reportObserved(node, report);
        JsonNode instance = admin("GET", "/v1/instances/" + id, null);
        assertThat(instance.get("state").asText()).isEqualTo("running");
        assertThat(instance.get("pid").asLong()).isEqualTo(4242);
        assertThat(admin("GET", "/v1/instances/" + id + "/events", null).get("items")).hasSize(1);

        assertThatThrownBy(() -> client.heartbeat(NodeId.of("someone-else"), 0))
                .isInstanceOfSatisfying(MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(ErrorCategory.PERMISSION_DENIED));
    }
}
