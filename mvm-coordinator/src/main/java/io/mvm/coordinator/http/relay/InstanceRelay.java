package io.mvm.coordinator.http.relay;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.core.lifecycle.DesiredState;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.store.db.Database;
import io.mvm.store.instance.Instance;
import io.mvm.store.instance.InstanceStore;
import io.mvm.store.node.Node;
import io.mvm.store.node.NodeStore;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Reaches into an instance through the agent of the node that runs it (no SSH anywhere): the
 * coordinator presents the relay token it derives for the node (and, over https, its client
 * certificate), and turns every way that can fail
 * into a clear category — 409 when the instance is not placed or not running, 503 when the node
 * is lost or its agent does not answer.
 */
public final class InstanceRelay {
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration MARGIN = Duration.ofSeconds(15);

    private final Database db;
    private final InstanceStore instances;
    private final NodeStore nodes;
    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).build();
    private final io.mvm.coordinator.tls.ControlChannel channel;
    /** One client per node over TLS: each trusts only its own node's certificate. */
    private final java.util.Map<io.mvm.model.NodeId, HttpClient> tlsClients = new java.util.concurrent.ConcurrentHashMap<>();

    public InstanceRelay(Database db, InstanceStore instances, NodeStore nodes,
                         io.mvm.coordinator.tls.ControlChannel channel) {
        this.channel = channel;
        this.db = db;
        this.instances = instances;
        this.nodes = nodes;
    }

    /** The agent's answer, passed on as it came (JSON for exec, text for logs). */
    public record Answer(String contentType, byte[] body) {}

    public Answer exec(InstanceId id, ExecRequest exec) {
        Target t = target(id, true);
        return send(t, id, execRequest(t, id, exec).build());
    }

    /** The media type of an exec whose output streams (docs/api.md, "exec"). */
    public static final String NDJSON = "application/x-ndjson";

    /**
     * Starts an exec whose output streams: the agent's newline-delimited JSON body as it arrives,
     * for the caller to copy through (and close). Failures before the agent began to answer are
     * thrown as from {@link #exec}; a failure after that is the body's last line.
     */
    public InputStream execStream(InstanceId id, ExecRequest exec) {
        Target t = target(id, true);
        HttpRequest request = execRequest(t, id, exec).header("Accept", NDJSON).build();
        HttpResponse<InputStream> resp;
        try {
            resp = client(t).send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw unreachable(t, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RelayUnavailableException("interrupted while waiting for node '" + t.node().id() + "'", e);
        }
        if (resp.statusCode() == 200) {
            return resp.body();
        }
        byte[] problem;
        try (InputStream body = resp.body()) {
            problem = body.readNBytes(64 * 1024);
        } catch (IOException e) {
            problem = new byte[0];
        }
        throw failure(t, id, resp.statusCode(), problem);
    }

    private HttpRequest.Builder execRequest(Target t, InstanceId id, ExecRequest exec) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("argv", exec.argv());
        body.put("env", exec.env());
        body.put("stdin_b64", exec.stdinB64());
        body.put("timeout_secs", exec.timeoutSecs());
        byte[] bytes;
        try {
            bytes = json.writeValueAsBytes(body);
        } catch (IOException e) {
            throw MvmException.internal("cannot encode an exec request", e);
        }
        return t.request("v1/instances/" + id + "/exec", Duration.ofSeconds(exec.timeoutSecs()).plus(MARGIN))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes));
    }

    /**
     * Asks the node holding a warm VM to hand it over as {@code entry} (the instance's desired
     * entry after the claim was recorded). Returns the agent's answer: where the time went.
     */
    public Map<String, Long> claim(InstanceId id, io.mvm.coordinator.scheduler.DesiredEntry entry, Duration timeout) {
        Target t = target(id, false);
        byte[] bytes;
        try {
            bytes = SNAKE.writeValueAsBytes(claimBody(entry));
        } catch (IOException e) {
            throw MvmException.internal("cannot encode a claim", e);
        }
        HttpRequest request = t.request("v1/instances/" + id + "/claim", timeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes))
                .build();
        Answer answer = send(t, id, request);
        Map<String, Long> phases = new LinkedHashMap<>();
        try {
            json.readTree(answer.body()).path("phase_ms").properties()
                    .forEach(e -> phases.put(e.getKey(), e.getValue().asLong()));
        } catch (IOException e) {
            // The hand-over happened (200); only its timing is unreadable.
        }
        return phases;
    }

    /** The instance's workload as its guest agent reports it: its state and, once exited, its code. */
    public record Workload(String state, Optional<Integer> exitCode) {}

    public Workload workload(InstanceId id) {
        Target t = target(id, true);
        Answer answer = send(t, id, t.request("v1/instances/" + id + "/workload", MARGIN).GET().build());
        try {
            JsonNode body = json.readTree(answer.body());
            JsonNode code = body.path("exit_code");
            return new Workload(body.path("state").asText("none"),
                    code.isIntegralNumber() ? Optional.of(code.asInt()) : Optional.empty());
        } catch (IOException e) {
            throw new RelayUnavailableException("node '" + t.node().id() + "' sent an unreadable workload status", e);
        }
    }

    /** The instance in the shape of a desired-state element (docs/agent-protocol.md). */
    private static Map<String, Object> claimBody(io.mvm.coordinator.scheduler.DesiredEntry e) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", e.id());
        body.put("tenant", e.tenant());
        body.put("pool", e.pool());
        body.put("role", e.role());
        body.put("desired_state", e.desiredState());
        body.put("vcpus", e.vcpus());
        body.put("memory_mib", e.memoryMib());
        body.put("data_disk_mib", e.dataDiskMib());
        body.put("ip", e.ip());
        body.put("prefix", e.prefix());
        body.put("gateway", e.gateway());
        body.put("mac", e.mac());
        body.put("net_id", e.netId());
        body.put("cmd", e.cmd());
        body.put("env", e.env());
        body.put("secrets", e.secrets());
        body.put("config_files", e.configFiles());
        body.put("revision", e.revision());
        body.put("template", e.template());
        body.put("template_revision", e.templateRevision());
        body.put("artifacts", e.artifacts());
        body.put("ports", e.exposure().ports().stream().map(p -> Map.of("guest", p.guest(), "host", p.host(),
                "protocol", p.protocol())).toList());
        body.put("restart_workload", e.restartWorkload());
        body.put("idle", e.exposure().idle().map(i -> Map.of("warm_after_ms", i.warmAfter().toMillis(),
                "sleep_after_ms", i.sleepAfter().toMillis(), "min_runtime_ms", i.minRuntime().toMillis(),
                "cpu_threshold", i.cpuThreshold())).orElse(null));
        return body;
    }

    /** The agent protocol's field names (the desired state is sent the same way). */
    private static final ObjectMapper SNAKE = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .propertyNamingStrategy(com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE).build();

    public Answer logs(InstanceId id, int lines) {
        if (lines < 1 || lines > 100_000) {
            throw MvmException.invalid("lines must be 1-100000, got " + lines);
        }
        Target t = target(id, false);
        HttpRequest request = t.request("v1/instances/" + id + "/logs?lines=" + lines, MARGIN).GET().build();
        return send(t, id, request);
    }

    private record Target(Node node, URI base, String token) {
        HttpRequest.Builder request(String path, Duration timeout) {
            return HttpRequest.newBuilder(base.resolve(path)).timeout(timeout)
                    .header("Authorization", "Bearer " + token);
        }
    }

    private Target target(InstanceId id, boolean mustRun) {
        record Found(Instance instance, Node node) {}
        Found found = db.read(tx -> {
            Instance i = instances.find(tx, id)
                    .orElseThrow(() -> MvmException.notFound("instance '" + id + "' not found"));
            Node n = i.node().isEmpty() ? null : nodes.find(tx, i.node().get()).orElse(null);
            return new Found(i, n);
        });
        Instance i = found.instance();
        if (found.node() == null) {
            throw MvmException.conflict("instance '" + id + "' is not placed on a node yet"
                    + i.pendingReason().map(r -> " (" + r + ")").orElse(""));
        }
        Node n = found.node();
        if (!n.ready()) {
            throw new RelayUnavailableException("node '" + n.id() + "' running instance '" + id
                    + "' is lost (no heartbeat); try again when it is back", null);
        }
        if (mustRun && i.state() != InstanceState.RUNNING) {
            throw MvmException.conflict("instance '" + id + "' is " + i.state() + ", not running"
                    + (i.desired() == DesiredState.RUNNING ? "; wait for it to start" : "; start or wake it first"));
        }
        if (n.agentUrl().isEmpty()) {
            throw new RelayUnavailableException("node '" + n.id() + "' registered no agent relay endpoint", null);
        }
        String url = n.agentUrl().get();
        return new Target(n, URI.create(url.endsWith("/") ? url : url + "/"), channel.relayToken(n.id()));
    }

    private Answer send(Target t, InstanceId id, HttpRequest request) {
        HttpResponse<byte[]> resp;
        try {
            resp = client(t).send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw unreachable(t, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RelayUnavailableException("interrupted while waiting for node '" + t.node().id() + "'", e);
        }
        int status = resp.statusCode();
        String contentType = resp.headers().firstValue("Content-Type").orElse("application/octet-stream");
        if (status == 200) {
            return new Answer(contentType, resp.body());
        }
        throw failure(t, id, status, resp.body());
    }

    private static RelayUnavailableException unreachable(Target t, IOException e) {
        return new RelayUnavailableException("the agent of node '" + t.node().id() + "' at " + t.base()
                + " does not answer: " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), e);
    }

    /** What an agent's refusal means for the caller: one category per status. */
    private MvmException failure(Target t, InstanceId id, int status, byte[] body) {
        String detail = detail(body);
        String where = "node '" + t.node().id() + "'";
        return switch (status) {
            case 400 -> MvmException.invalid("the agent refused the request: " + detail);
            case 404 -> MvmException.conflict("instance '" + id + "' is not on " + where + " (yet): " + detail);
            case 409 -> MvmException.conflict("instance '" + id + "' is not running on " + where + ": " + detail);
            case 401, 403 -> new RelayUnavailableException(where + " refused the coordinator's relay token (the agent has"
                    + " not registered with this coordinator since it started? it re-registers shortly): " + detail, null);
            default -> new RelayUnavailableException(where + " answered " + status + ": " + detail, null);
        };
    }

    /** https relays: the coordinator's certificate out, only that node's certificate in. */
    private HttpClient client(Target t) {
        if (!"https".equals(t.base().getScheme())) {
            return http;
        }
        return tlsClients.computeIfAbsent(t.node().id(), node -> HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT)
                .sslContext(channel.relayClientContext(node)).build());
    }

    private String detail(byte[] body) {
        try {
            JsonNode p = json.readTree(body);
            if (p != null && p.hasNonNull("detail")) {
                return p.get("detail").asText();
            }
        } catch (IOException ignored) {
            // Not a problem body: show the start of what came.
        }
        String text = new String(body, StandardCharsets.UTF_8).strip();
        return text.isEmpty() ? "(no detail)" : text.substring(0, Math.min(200, text.length()));
    }

}
