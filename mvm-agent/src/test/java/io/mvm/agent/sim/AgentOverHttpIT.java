package io.mvm.agent.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.mvm.agent.AgentService;
import io.mvm.agent.AgentSettings;
import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.HttpCoordinatorClient;
import io.mvm.agent.coordinator.InstanceReport;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.VmState;
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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The agent over real HTTP: {@link HttpCoordinatorClient} against a loopback server that speaks
 * docs/agent-protocol.md in front of the in-memory coordinator. Long-polls, re-registration after a
 * coordinator restart (server gone, then back on the same port with registrations forgotten).
 */
class AgentOverHttpIT {
    final SimClock clock = new SimClock();
    final FakeCoordinator coordinator = new FakeCoordinator(clock, Duration.ofSeconds(30));
    final CoordinatorClient inner = coordinator.client();
    final ObjectMapper json = new ObjectMapper();
    final NodeId node = NodeId.of("node-h");
    HttpServer server;
    AgentService agent;

    @AfterEach
    void stop() {
        if (agent != null) {
            agent.close();
        }
        if (server != null) {
            server.stop(0);
        }
        if (second != null) {
            second.stop(0);
        }
    }

    void serve(int port) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/v1/nodes/", this::handle);
        server.start();
    }

    @Test
    void convergesOverHttpAndReRegistersAfterACoordinatorRestart() throws Exception {
        serve(0);
        int port = server.getAddress().getPort();
        coordinator.createPool("acme/gateways", Role.GATEWAY, new Capacity(1, 256, 0));
        coordinator.createPool("acme/workers", Role.WORKER, new Capacity(1, 256, 0));
        var runtime = new FakeRuntime(node, clock, 3);
        var client = new HttpCoordinatorClient(URI.create("http://127.0.0.1:" + port), "join-token",
                Duration.ofSeconds(10), clock);
        var defaults = AgentSettings.defaults(node, new Capacity(8, 8192, 10_000), Map.of(), Duration.ofMillis(100));
        var settings = new AgentSettings(defaults.node(), defaults.capacity(), defaults.labels(), 2,
                Duration.ofSeconds(2), defaults.heartbeatInterval(), defaults.reportInterval(), Duration.ofSeconds(5),
                Duration.ofMillis(200), defaults.healthInterval(), Duration.ofMillis(50), 2, defaults.restartBackoff(),
                defaults.stablePeriod(), defaults.passBackoff(),
                new io.mvm.agent.queue.ExponentialBackoff(Duration.ofMillis(50), Duration.ofMillis(500)),
                defaults.planner());
        agent = new AgentService(settings, runtime, client, clock);
        agent.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> coordinator.readyNodes() == 1);

        coordinator.scale("acme/gateways", 1, 0, 0);
        coordinator.scale("acme/workers", 2, 1, 0);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            assertThat(runtime.states().values()).containsExactlyInAnyOrder(VmState.RUNNING, VmState.RUNNING,
                    VmState.RUNNING, VmState.WARM);
            assertThat(coordinator.instances().values()).allSatisfy(
                    i -> assertThat(i.reported.wireName()).isEqualTo(i.target.wireName()));
        });

        server.stop(0);
        coordinator.restart();
        coordinator.cameBack();
        coordinator.scale("acme/workers", 0, 0, 2);
        Thread.sleep(500);
        serve(port);

        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            assertThat(runtime.states().values()).containsExactlyInAnyOrder(VmState.RUNNING, VmState.SLEEPING,
                    VmState.SLEEPING);
            assertThat(coordinator.instances().values()).allSatisfy(
                    i -> assertThat(i.reported.wireName()).isEqualTo(i.target.wireName()));
        });
        assertThat(coordinator.events).anySatisfy(e -> assertThat(e.event().type()).isEqualTo("slept"));
    }

    HttpServer second;

    HttpServer serveAnother(int port) throws IOException {
        var s = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        s.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        s.createContext("/v1/nodes/", this::handle);
        s.start();
        return s;
    }

    AgentSettings fastSettings() {
        var defaults = AgentSettings.defaults(node, new Capacity(8, 8192, 10_000), Map.of(), Duration.ofMillis(100));
        return new AgentSettings(defaults.node(), defaults.capacity(), defaults.labels(), 2,
                Duration.ofSeconds(2), defaults.heartbeatInterval(), defaults.reportInterval(), Duration.ofSeconds(5),
                Duration.ofMillis(200), defaults.healthInterval(), Duration.ofMillis(50), 2, defaults.restartBackoff(),
                defaults.stablePeriod(), defaults.passBackoff(),
                new io.mvm.agent.queue.ExponentialBackoff(Duration.ofMillis(50), Duration.ofMillis(500)),
                defaults.planner());
    }

    /**
     * Two coordinators in front of one shared state (as two coordinator processes share one
     * database): the agent follows whichever answers, and events made while neither answered
     * reach the coordinator once one does (the outbox keeps them).
     */
    @Test
    void failsOverBetweenCoordinatorsWithoutLosingEvents() throws Exception {
        serve(0);
        second = serveAnother(0);
        int portA = server.getAddress().getPort();
        int portB = second.getAddress().getPort();
        var a = URI.create("http://127.0.0.1:" + portA);
        var b = URI.create("http://127.0.0.1:" + portB);
        coordinator.createPool("acme/gateways", Role.GATEWAY, new Capacity(1, 256, 0));
        coordinator.createPool("acme/workers", Role.WORKER, new Capacity(1, 256, 0));
        var runtime = new FakeRuntime(node, clock, 3);
        var client = new io.mvm.agent.coordinator.FailoverCoordinatorClient(
                io.mvm.agent.coordinator.FailoverCoordinatorClient.parse(java.util.List.of(a + "," + b)),
                url -> new HttpCoordinatorClient(url, "join-token", Duration.ofSeconds(10), clock));
        assertThat(client.urls()).containsExactly(a, b);
        agent = new AgentService(fastSettings(), runtime, client, clock);
        agent.start();
        coordinator.scale("acme/gateways", 1, 0, 0);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            assertThat(runtime.states().values()).containsExactly(VmState.RUNNING);
            assertThat(coordinator.instances().values()).allSatisfy(
                    i -> assertThat(i.reported.wireName()).isEqualTo(i.target.wireName()));
        });
        assertThat(client.current()).isEqualTo(a);

        // The first coordinator dies: the long poll, heartbeats and reports go on through the second.
        server.stop(0);
        coordinator.scale("acme/workers", 2, 0, 0);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            assertThat(runtime.states().values()).containsExactly(VmState.RUNNING, VmState.RUNNING, VmState.RUNNING);
            assertThat(coordinator.instances().values()).allSatisfy(
                    i -> assertThat(i.reported.wireName()).isEqualTo(i.target.wireName()));
        });
        assertThat(client.current()).isEqualTo(b);

        // Neither answers while a VM crashes and is restarted; the events wait in the outbox.
        second.stop(0);
        second = null;
        var crashed = runtime.states().keySet().iterator().next();
        int before = (int) coordinator.events.stream().filter(e -> e.event().instance().equals(crashed)).count();
        runtime.crash(crashed);
        await().atMost(Duration.ofSeconds(60)).until(() -> runtime.states().get(crashed) == VmState.RUNNING);
        Thread.sleep(500);
        assertThat(coordinator.events.stream().filter(e -> e.event().instance().equals(crashed)).count())
                .as("nothing delivered while no coordinator answers").isEqualTo(before);

        // The first comes back on its address: the agent returns to it and delivers what it kept.
        serve(portA);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(coordinator.events.stream()
                .filter(e -> e.event().instance().equals(crashed)).count()).isGreaterThan(before));
        assertThat(client.current()).isEqualTo(a);
    }

    /**
     * Self-fencing with the simulation's clock: an agent cut off from every coordinator keeps its
     * VMs for the lease, pauses them after the further delay, and resumes them when a coordinator
     * answers again and still wants them running.
     */
    @Test
    void aPartitionedAgentPausesItsVmsAfterItsLeaseAndResumesThemOnReconnect() throws Exception {
        coordinator.createPool("acme/gateways", Role.GATEWAY, new Capacity(1, 256, 0));
        coordinator.createPool("acme/workers", Role.WORKER, new Capacity(1, 256, 0));
        var runtime = new FakeRuntime(node, clock, 3);
        agent = new AgentService(fastSettings(), runtime, inner, clock)
                .selfFence(new io.mvm.core.fence.SelfFence(Duration.ofSeconds(30), Duration.ofSeconds(15)));
        agent.start();
        coordinator.scale("acme/gateways", 1, 0, 0);
        coordinator.scale("acme/workers", 2, 0, 0);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(runtime.states().values())
                .containsExactly(VmState.RUNNING, VmState.RUNNING, VmState.RUNNING));

        coordinator.restart(); // unreachable from now on
        Thread.sleep(300);
        clock.advance(Duration.ofSeconds(25));
        assertThat(agent.fence().tick()).isEqualTo(io.mvm.core.fence.SelfFence.Stage.CONNECTED);
        clock.advance(Duration.ofSeconds(10));
        assertThat(agent.fence().tick()).isEqualTo(io.mvm.core.fence.SelfFence.Stage.NO_NEW_WORK);
        assertThat(agent.fence().acceptsNewWork()).isFalse();
        Thread.sleep(500);
        assertThat(runtime.states().values()).as("fenced, but not paused yet")
                .containsExactly(VmState.RUNNING, VmState.RUNNING, VmState.RUNNING);

        clock.advance(Duration.ofSeconds(15));
        assertThat(agent.fence().tick()).isEqualTo(io.mvm.core.fence.SelfFence.Stage.PAUSED);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(runtime.states().values())
                .as("paused, never destroyed").containsExactly(VmState.WARM, VmState.WARM, VmState.WARM));

        coordinator.cameBack();
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            assertThat(agent.fence().stage()).isEqualTo(io.mvm.core.fence.SelfFence.Stage.CONNECTED);
            assertThat(runtime.states().values()).containsExactly(VmState.RUNNING, VmState.RUNNING, VmState.RUNNING);
        });
    }

    // --- a minimal server side of the protocol ------------------------------------------------

    void handle(HttpExchange ex) throws IOException {
        try (ex) {
            var parts = ex.getRequestURI().getPath().split("/");
            var body = ex.getRequestBody().readAllBytes();
            try {
                if (parts.length == 4 && parts[3].equals("register")) {
                    var r = json.readTree(body);
                    var c = r.get("capacity");
                    var reg = inner.register(new NodeRegistration(NodeId.of(r.get("node_id").asText()),
                            new Capacity(c.get("vcpus").asInt(), c.get("memory_mib").asLong(),
                                    c.get("disk_mib").asLong()), Map.of(),
                            Accelerator.parse(r.get("accelerator").asText())));
                    send(ex, 200, json.createObjectNode().put("node_id", reg.node().value())
                            .put("heartbeat_interval_secs", 1));
                    return;
                }
                var id = NodeId.of(parts[3]);
                switch (parts[4]) {
                    case "heartbeat" -> {
                        inner.heartbeat(id, json.readTree(body).get("instance_count").asInt());
                        send(ex, 204, null);
                    }
                    case "desired" -> send(ex, 200, desired(id, ex.getRequestURI().getQuery()));
                    case "observed" -> {
                        inner.reportObserved(id, observed(json.readTree(body)));
                        send(ex, 204, null);
                    }
                    default -> send(ex, 404, problem("no such route"));
                }
            } catch (MvmException e) {
                send(ex, e.category() == ErrorCategory.NOT_FOUND ? 404 : 503, problem(e.getMessage()));
            }
        }
    }

    JsonNode desired(NodeId id, String query) {
        var params = new HashMap<String, String>();
        if (query != null) {
            for (var kv : query.split("&")) {
                var p = kv.split("=", 2);
                params.put(p[0], p[1]);
            }
        }
        var after = params.containsKey("after_generation")
                ? OptionalLong.of(Long.parseLong(params.get("after_generation"))) : OptionalLong.empty();
        var snapshot = inner.desired(id, after, Duration.ofSeconds(Long.parseLong(params.getOrDefault("wait_secs", "0"))));
        var out = json.createObjectNode().put("generation", snapshot.generation());
        var list = out.putArray("instances");
        for (var d : snapshot.instances()) {
            var s = d.spec();
            var i = list.addObject().put("id", s.id().value()).put("tenant", s.tenant().value())
                    .put("pool", s.pool().value()).put("role", s.role().wireName())
                    .put("desired_state", d.target().wireName()).put("vcpus", s.vcpus())
                    .put("memory_mib", s.memoryMib()).put("data_disk_mib", s.dataDiskMib())
                    .put("ip", s.network().ip()).put("prefix", s.network().prefix())
                    .put("gateway", s.network().gateway()).put("net_id", s.network().netId())
                    .put("revision", s.revision());
            i.putArray("cmd");
            i.putObject("env");
            var secrets = i.putObject("secrets");
            s.secrets().forEach(secrets::put);
            i.putObject("config_files");
        }
        return out;
    }

    static ObservedReport observed(JsonNode body) {
        var reports = new ArrayList<InstanceReport>();
        for (var i : body.get("instances")) {
            var id = InstanceId.of(i.get("id").asText());
            var events = new ArrayList<InstanceEvent>();
            for (var e : i.get("events")) {
                events.add(new InstanceEvent(Instant.parse(e.get("time").asText()), id, e.get("type").asText(),
                        e.get("message").asText()));
            }
            reports.add(new InstanceReport(id, InstanceState.parse(i.get("state").asText()),
                    i.has("pid") ? OptionalLong.of(i.get("pid").asLong()) : OptionalLong.empty(),
                    Accelerator.parse(i.get("accelerator").asText()),
                    Optional.ofNullable(i.get("last_error")).map(JsonNode::asText), events));
        }
        return new ObservedReport(body.get("desired_generation").asLong(), reports);
    }

    ObjectNode problem(String detail) {
        return json.createObjectNode().put("title", "error").put("detail", detail);
    }

    void send(HttpExchange ex, int status, JsonNode body) throws IOException {
        if (body == null) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        var bytes = json.writeValueAsString(body).getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", status >= 400 ? "application/problem+json" : "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
    }
}
