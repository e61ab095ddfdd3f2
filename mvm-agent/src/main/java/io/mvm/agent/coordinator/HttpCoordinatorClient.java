package io.mvm.agent.coordinator;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.TemplatePin;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.Target;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * {@link CoordinatorClient} over HTTP with java.net.http and Jackson. Holds no connection state of
 * its own beyond the JDK client's pool, so a coordinator restart only shows up as a few
 * UNAVAILABLE errors that the caller retries.
 */
public final class HttpCoordinatorClient implements CoordinatorClient, io.mvm.agent.templates.ArtifactSource {
    private final URI base;
    private final Duration requestTimeout;
    private final InstantSource clock;
    private volatile HttpClient http;
    private final ObjectMapper json;
    private volatile String token;
    private final Optional<javax.net.ssl.SSLContext> tls;

    public HttpCoordinatorClient(URI base, String token, Duration requestTimeout, InstantSource clock) {
        this(base, token, requestTimeout, clock, Optional.empty());
    }

    /** {@code tls}: the context for an https coordinator (pins the cluster CA, presents the node's certificate). */
    public HttpCoordinatorClient(URI base, String token, Duration requestTimeout, InstantSource clock,
                                 Optional<javax.net.ssl.SSLContext> tls) {
        Objects.requireNonNull(base, "base");
        if (!"http".equals(base.getScheme()) && !"https".equals(base.getScheme())) {
            throw MvmException.invalid("coordinator URL must be http:// or https://, got '" + base + "'");
        }
        if (token == null || token.isBlank()) {
            throw MvmException.invalid("a node token is required to talk to the coordinator");
        }
        this.base = URI.create(base.toString().replaceAll("/+$", "") + "/");
        this.token = token;
        this.requestTimeout = requestTimeout;
        this.clock = clock;
        this.tls = tls;
        this.http = newHttp();
        this.json = JsonMapper.builder()
                .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .build();
    }

    @Override
    public Registration register(NodeRegistration r) {
        var body = new Wire.RegisterRequest(r.node().value(),
                new Wire.CapacityBody(r.capacity().vcpus(), r.capacity().memoryMib(), r.capacity().diskMib()),
                r.labels(), r.accelerator().wireName(),
                r.relay().map(e -> e.url().toString()).orElse(null), r.relay().map(RelayEndpoint::token).orElse(null),
                r.underlay().orElse(null), enrolment.csr().orElse(null));
        Wire.RegisterResponse resp;
        if (body.csr() != null && tls.isPresent()) {
            // Enrolment runs on a client of its own: its connection carries no certificate yet and
            // must not be pooled for the requests that follow, which authenticate by certificate.
            try (var enrolling = newHttp(enrolment.enrolmentTls().or(() -> tls))) {
                resp = send(enrolling, post("v1/nodes/register", body, requestTimeout), Wire.RegisterResponse.class);
            }
        } else {
            resp = send(post("v1/nodes/register", body, requestTimeout), Wire.RegisterResponse.class);
        }
        enrolment.accepted(Optional.ofNullable(resp.certificate()), Optional.ofNullable(resp.caCertificate()),
                Optional.ofNullable(resp.relayToken()));
        if (resp.certificate() != null) {
            resetConnections(); // connections made before carry no certificate, or the old one
        }
        var registration = new Registration(
                resp.nodeId() == null ? r.node() : NodeId.of(resp.nodeId()),
                Optional.ofNullable(resp.token()).filter(t -> !t.isBlank()),
                Duration.ofSeconds(resp.heartbeatIntervalSecs() == null ? 10 : resp.heartbeatIntervalSecs()));
        registration.token().ifPresent(t -> this.token = t);
        return registration;
    }

    private volatile Enrolment enrolment = new Enrolment() {
        @Override
        public Optional<String> csr() {
            return Optional.empty();
        }

        @Override
        public void accepted(Optional<String> certificatePem, Optional<String> caPem, Optional<String> relayToken) {
        }
    };

    /** Where registrations get their CSR and deliver their certificate and relay token. */
    public void enrolWith(Enrolment e) {
        this.enrolment = Objects.requireNonNull(e, "enrolment");
    }

    /**
     * New connections from now on (after a certificate renewal): a kept-alive connection goes on
     * speaking with the identity of its handshake, whose certificate will expire. Requests in
     * flight on the old connections finish.
     */
    public void resetConnections() {
        HttpClient old = http;
        http = newHttp();
        old.shutdown();
    }

    /** A new certificate for a new key (PEM CSR); answers the certificate and the CA, PEM. */
    public List<String> renewCertificate(NodeId node, String csr) {
        var resp = send(post("v1/nodes/" + node + "/certificate", new Wire.CertificateRequest(csr), requestTimeout),
                Wire.CertificateResponse.class);
        if (resp == null || resp.certificate() == null) {
            throw MvmException.internal("the coordinator answered no certificate", null);
        }
        return List.of(resp.certificate(), resp.caCertificate() == null ? "" : resp.caCertificate());
    }

    @Override
    public void heartbeat(NodeId node, int instanceCount) {
        send(post("v1/nodes/" + node + "/heartbeat",
                new Wire.HeartbeatRequest(clock.instant().toString(), instanceCount), requestTimeout), null);
    }

    @Override
    public DesiredSnapshot desired(NodeId node, OptionalLong afterGeneration, Duration wait) {
        var path = "v1/nodes/" + node + "/desired";
        if (afterGeneration.isPresent()) {
            path += "?after_generation=" + afterGeneration.getAsLong() + "&wait_secs=" + Math.max(0, wait.toSeconds());
        }
        var request = HttpRequest.newBuilder(base.resolve(path))
                .timeout(requestTimeout.plus(wait))
                .header("Authorization", "Bearer " + token)
                .header("Accept", "application/json")
                .GET().build();
        var resp = send(request, Wire.DesiredResponse.class);
        return toSnapshot(resp);
    }

    @Override
    public void reportObserved(NodeId node, ObservedReport report) {
        var body = new Wire.ObservedRequest(report.desiredGeneration(), report.instances().stream()
                .map(i -> new Wire.ObservedInstanceBody(i.id().value(), i.state().wireName(),
                        i.pid().isPresent() ? i.pid().getAsLong() : null, i.accelerator().wireName(),
                        i.lastError().orElse(null),
                        i.events().stream().map(e -> new Wire.EventBody(e.time().toString(), e.type(), e.message()))
                                .toList(), bootedOf(i.id()).map(b -> b.template()).orElse(null),
                        bootedOf(i.id()).map(b -> b.revision()).orElse(null),
                        // Left out when empty, so nodes without routes send what older coordinators know.
                        i.routes().isEmpty() ? null : i.routes().stream().map(r -> new Wire.RouteBody(r.guestPort(),
                                r.hostPort().isPresent() ? r.hostPort().getAsInt() : null, r.protocol(),
                                r.error().orElse(null))).toList(),
                        i.idled().orElse(null)))
                .toList(),
                report.orphans().map(list -> list.stream().map(o -> new Wire.OrphanBody(o.instanceId(),
                        o.path().toString(), o.bytes(), o.reason(), o.at().toString())).toList()).orElse(null));
        send(post("v1/nodes/" + node + "/observed", body, requestTimeout), null);
    }

    static DesiredSnapshot toSnapshot(Wire.DesiredResponse resp) {
        if (resp == null) {
            throw MvmException.internal("coordinator sent an empty desired-state body", null);
        }
        var instances = resp.instances() == null ? List.<Wire.DesiredInstanceBody>of() : resp.instances();
        var peers = resp.peers() == null ? List.<Wire.PeerBody>of() : resp.peers();
        try {
            return DesiredSnapshot.confirmed(resp.generation(), instances.stream().map(HttpCoordinatorClient::toDesired)
                    .toList(), peers.stream().map(p -> new io.mvm.core.netpolicy.OverlayPeers.Peer(
                            InstanceId.of(p.instance()), TenantId.of(p.tenant()), p.netId(),
                            io.mvm.core.netpolicy.MacAddress.parse(p.mac()),
                            io.mvm.core.netpolicy.Ipv4Address.parse(p.ip()), io.mvm.model.NodeId.of(p.node()),
                            io.mvm.core.netpolicy.Ipv4Address.parse(p.underlay()))).toList());
        } catch (NullPointerException e) {
            throw MvmException.invalid("the coordinator sent a peer without a field: " + e.getMessage());
        }
    }

    /**
     * One instance in the desired-state wire shape (as a claim through the relay sends it), read with
     * {@code json} (snake_case). Invalid bodies are INVALID_ARGUMENT.
     */
    public static InstanceSpec parseInstance(com.fasterxml.jackson.databind.ObjectMapper json, byte[] body) {
        try {
            var b = json.readValue(body, Wire.DesiredInstanceBody.class);
            if (b == null) {
                throw MvmException.invalid("the claim body is empty");
            }
            return toDesired(b).spec();
        } catch (IOException e) {
            throw MvmException.invalid("unreadable instance: " + e.getMessage());
        } catch (NullPointerException e) {
            throw MvmException.invalid("the instance is missing a field: " + e.getMessage());
        }
    }

    private static DesiredInstance toDesired(Wire.DesiredInstanceBody b) {
        var spec = new InstanceSpec(InstanceId.of(b.id()), TenantId.of(b.tenant()), PoolName.of(b.pool()),
                Role.parse(b.role()), b.vcpus(), b.memoryMib(), b.dataDiskMib(),
                new NetworkSpec(nonNull(b.ip(), "ip"), b.prefix(), nonNull(b.gateway(), "gateway"),
                        Optional.ofNullable(b.mac()), b.netId()),
                b.cmd() == null ? List.of() : b.cmd(), orEmpty(b.env()), orEmpty(b.secrets()),
                orEmpty(b.configFiles()), b.revision() == null ? "" : b.revision(), Optional.ofNullable(b.template()),
                b.template() == null || b.templateRevision() == null ? Optional.empty()
                        : Optional.of(new TemplatePin(b.template(), b.templateRevision(),
                                (b.artifacts() == null ? List.<Wire.ArtifactBody>of() : b.artifacts()).stream()
                                        .map(a -> new TemplatePin.Artifact(a.role(), a.path(), a.size(), a.sha256()))
                                        .toList())));
        var ports = b.ports() == null ? List.<io.mvm.core.scale.PortMapping>of() : b.ports().stream()
                .map(p -> new io.mvm.core.scale.PortMapping(p.guest(), p.host(), p.protocol())).toList();
        var idle = Optional.ofNullable(b.idle()).map(i -> new io.mvm.core.scale.IdlePolicy(
                java.time.Duration.ofMillis(i.warmAfterMs()), java.time.Duration.ofMillis(i.sleepAfterMs()),
                java.time.Duration.ofMillis(i.minRuntimeMs()), i.cpuThreshold()));
        return new DesiredInstance(spec, Target.parse(b.desiredState()), new io.mvm.core.scale.Exposure(ports, idle),
                Boolean.TRUE.equals(b.restartWorkload()));
    }

    private static String nonNull(String v, String field) {
        if (v == null) {
            throw MvmException.invalid("desired instance is missing '" + field + "'");
        }
        return v;
    }

    /** Where reports find the template revision each instance booted (none until wired). */
    private volatile java.util.function.Function<io.mvm.model.InstanceId,
            Optional<io.mvm.agent.templates.TemplateArtifacts.Booted>> booted = id -> Optional.empty();

    public void reportBootedFrom(java.util.function.Function<io.mvm.model.InstanceId,
            Optional<io.mvm.agent.templates.TemplateArtifacts.Booted>> lookup) {
        this.booted = lookup;
    }

    private Optional<io.mvm.agent.templates.TemplateArtifacts.Booted> bootedOf(io.mvm.model.InstanceId id) {
        try {
            return booted.apply(id);
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    @Override
    public byte[] revisionRecord(String template, String revision) {
        var request = HttpRequest.newBuilder(base.resolve("v1/templates/" + template + "/revisions/" + revision))
                .timeout(requestTimeout)
                .header("Authorization", "Bearer " + token)
                .header("Accept", "application/json")
                .GET().build();
        var body = send(request, Wire.RevisionBody.class);
        if (body == null || body.record() == null || !body.record().isObject()) {
            throw MvmException.internal("the coordinator sent no record for " + template + " " + revision, null);
        }
        try {
            return json.writeValueAsBytes(body.record());
        } catch (IOException e) {
            throw MvmException.internal("cannot encode a revision record", e);
        }
    }

    @Override
    public Ranged artifact(String sha256, long offset) {
        var request = HttpRequest.newBuilder(base.resolve("v1/artifacts/sha256:" + sha256))
                .timeout(Duration.ofHours(1))
                .header("Authorization", "Bearer " + token)
                .header("Range", "bytes=" + offset + "-")
                .GET().build();
        HttpResponse<java.io.InputStream> resp;
        try {
            resp = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw MvmException.unavailable("coordinator at " + base + " is unreachable: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw MvmException.unavailable("interrupted while fetching an artifact", e);
        }
        int status = resp.statusCode();
        if (status == 206) {
            return new Ranged(offset, resp.body());
        }
        if (status == 200) {
            return new Ranged(0, resp.body());
        }
        try (var ignored = resp.body()) {
            throw new MvmException(category(status), "coordinator answered " + status + " to GET artifact sha256:"
                    + sha256);
        } catch (IOException e) {
            throw MvmException.unavailable("cannot fetch artifact sha256:" + sha256 + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, String> orEmpty(Map<String, String> m) {
        return m == null ? Map.of() : m;
    }

    private HttpRequest post(String path, Object body, Duration timeout) {
        byte[] bytes;
        try {
            bytes = json.writeValueAsBytes(body);
        } catch (IOException e) {
            throw MvmException.internal("cannot encode " + body.getClass().getSimpleName(), e);
        }
        return HttpRequest.newBuilder(base.resolve(path))
                .timeout(timeout)
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes))
                .build();
    }

    private HttpClient newHttp() {
        return newHttp(tls);
    }

    private HttpClient newHttp(Optional<javax.net.ssl.SSLContext> context) {
        var builder = HttpClient.newBuilder().connectTimeout(requestTimeout);
        context.ifPresent(builder::sslContext);
        return builder.build();
    }

    private <T> T send(HttpRequest request, Class<T> type) {
        return send(http, request, type);
    }

    private <T> T send(HttpClient client, HttpRequest request, Class<T> type) {
        HttpResponse<byte[]> resp;
        try {
            resp = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            var why = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            throw MvmException.unavailable("coordinator at " + base + " is unreachable: " + why, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw MvmException.unavailable("interrupted while talking to the coordinator", e);
        }
        int status = resp.statusCode();
        if (status / 100 != 2) {
            throw new MvmException(category(status), "coordinator answered " + status + " to "
                    + request.method() + " " + request.uri().getPath() + problemDetail(resp.body()));
        }
        if (type == null) {
            return null;
        }
        try {
            return json.readValue(resp.body(), type);
        } catch (IOException e) {
            throw MvmException.internal("coordinator sent an unreadable " + type.getSimpleName() + ": "
                    + e.getMessage(), e);
        }
    }

    private String problemDetail(byte[] body) {
        try {
            var p = json.readValue(body, Wire.Problem.class);
            var text = p.detail() != null ? p.detail() : p.title();
            return text == null ? "" : ": " + text;
        } catch (IOException | RuntimeException e) {
            var text = new String(body, StandardCharsets.UTF_8).strip();
            return text.isEmpty() ? "" : ": " + text.substring(0, Math.min(200, text.length()));
        }
    }

    private static ErrorCategory category(int status) {
        return switch (status) {
            // 413 too: a body the coordinator will not take is as final as a malformed one.
            case 400, 413, 422 -> ErrorCategory.INVALID_ARGUMENT;
            case 401 -> ErrorCategory.UNAUTHENTICATED;
            case 403 -> ErrorCategory.PERMISSION_DENIED;
            case 404 -> ErrorCategory.NOT_FOUND;
            case 409, 412 -> ErrorCategory.CONFLICT;
            case 429 -> ErrorCategory.UNAVAILABLE;
            default -> status >= 500 ? ErrorCategory.UNAVAILABLE : ErrorCategory.INTERNAL;
        };
    }
}
