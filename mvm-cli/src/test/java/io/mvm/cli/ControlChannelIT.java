package io.mvm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.agent.coordinator.HttpCoordinatorClient;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.relay.AgentToken;
import io.mvm.agent.relay.GuestAccess;
import io.mvm.agent.relay.RelayServer;
import io.mvm.agent.tls.NodeCredentials;
import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import io.mvm.coordinator.tls.ControlTls;
import io.mvm.core.placement.Capacity;
import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.tls.Certificates;
import io.mvm.tls.ClusterCa;
import io.mvm.tls.ClusterTrust;
import io.mvm.tls.KeyMaterial;
import io.mvm.tls.TlsContexts;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.sql.DriverManager;
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
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The control channel over real TLS: a real coordinator (HTTPS, cluster CA under its data dir,
 * a hand-moved clock that every certificate check uses), the agent's real client and credentials,
 * the agent's real relay server.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ControlChannelIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration VALIDITY = Duration.ofHours(3);

    /** A clock the test moves; certificates are checked against it on both sides. */
    static final class Clock implements InstantSource {
        private volatile Instant now = Instant.now();

        @Override
        public Instant instant() {
            return now;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }
    }

    private final Clock clock = new Clock();
    private Path dataDir;
    private Coordinator coordinator;
    private URI base;
    private String adminToken;

    @BeforeEach
    void start() throws Exception {
        dataDir = Files.createTempDirectory("mvm-control-channel-it-");
        coordinator = Coordinator.start(CoordinatorConfig.defaults(dataDir).withListen("127.0.0.1", 0).withClock(clock)
                .withHousekeepingInterval(Duration.ofHours(1))
                .withTls(ControlTls.SECURE.withValidity(VALIDITY, Duration.ofMinutes(1))));
        base = URI.create("https://127.0.0.1:" + coordinator.port() + "/");
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

    private X509Certificate ca() {
        return coordinator.controlChannel().caCertificate();
    }

    /** An agent's side: credentials in its own directory, the real client, enrolled by a registration. */
    private record Agent(NodeId node, NodeCredentials credentials, HttpCoordinatorClient client, String token) {}

    private Agent enrol(String node) {
        NodeId id = NodeId.of(node);
        String token = coordinator.issueNodeToken(id);
        var credentials = NodeCredentials.open(dataDir.resolve("agents").resolve(node), id, Optional.of(ca()), clock);
        var client = new HttpCoordinatorClient(base, token, Duration.ofSeconds(10), clock,
                Optional.of(credentials.clientContext()));
        client.enrolWith(credentials);
        client.register(new NodeRegistration(id, new Capacity(8, 16384, 100_000), Map.of(), Accelerator.TCG));
        return new Agent(id, credentials, client, token);
    }

    private HttpResponse<String> call(SSLContext tls, String method, String path, String bearer, String body)
            throws Exception {
        try (var http = HttpClient.newBuilder().sslContext(tls).build()) {
            var b = HttpRequest.newBuilder(base.resolve(path)).header("Content-Type", "application/json");
            if (bearer != null) {
                b.header("Authorization", "Bearer " + bearer);
            }
            b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
            return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        }
    }

    private SSLContext asNode(Agent a) {
        return TlsContexts.of(Optional.of(a.credentials().keys()), ClusterTrust.coordinator(ca(), clock));
    }

    private SSLContext noCertificate() {
        return TlsContexts.of(Optional.empty(), ClusterTrust.coordinator(ca(), clock));
    }

    @Test
    void aNodeEnrolsWithACsrAndIsThenKnownByItsCertificate() throws Exception {
        Agent a = enrol("node-a");
        assertThat(a.credentials().enrolled()).isTrue();
        X509Certificate cert = a.credentials().keys().current().leaf();
        assertThat(cert.getSubjectX500Principal().getName()).contains("CN=node-a").contains("OU=node");
        // The key never left the node: it is in its data dir, 0600, and the certificate is for it.
        Path key = dataDir.resolve("agents/node-a/tls/node.key");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(
                dataDir.resolve("coordinator/tls/ca.key")))).isEqualTo("rw-------");

        // The agent protocol works over mTLS.
        a.client().heartbeat(a.node(), 0);
        assertThat(a.client().desired(a.node(), OptionalLong.empty(), Duration.ZERO).instances()).isEmpty();
        a.client().reportObserved(a.node(), new ObservedReport(0, List.of(), Optional.empty()));

        // Issuing is audited in the cluster's trail, by the token that enrolled.
        var audit = JSON.readTree(call(noCertificate(), "GET", "v1/audit?limit=1000", adminToken, null).body());
        assertThat(audit.toString()).contains("node-certificate.issue").contains("nodes/node-a (serial ");

        // The node token alone no longer does: nodes are authenticated by certificate.
        var tokenOnly = call(noCertificate(), "GET", "v1/nodes/node-a/desired", a.token(), null);
        assertThat(tokenOnly.statusCode()).isEqualTo(401);
        assertThat(tokenOnly.body()).contains("certificate");
        // The certificate decides who a caller is, whatever token comes with it.
        assertThat(call(asNode(a), "GET", "v1/nodes/node-a/desired", null, null).statusCode()).isEqualTo(200);
    }

    @Test
    void anAgentPinsTheCaByItsFingerprintAndOnlyThatOne() {
        String fingerprint = coordinator.controlChannel().caFingerprint();
        assertThat(io.mvm.tls.CaPin.fetch(base, fingerprint, Duration.ofSeconds(10))).isEqualTo(ca());
        assertThat(io.mvm.tls.CaPin.fetch(base, fingerprint.toUpperCase(java.util.Locale.ROOT).replace("SHA256:", ""),
                Duration.ofSeconds(10))).isEqualTo(ca());
        String other = ClusterCa.create(clock.instant(), Duration.ofDays(1)).fingerprint();
        assertThatThrownBy(() -> io.mvm.tls.CaPin.fetch(base, other, Duration.ofSeconds(10)))
                .isInstanceOfSatisfying(MvmException.class, e -> assertThat(e.getMessage())
                        .contains("does not present a CA with fingerprint"));
        // Without a pinned CA the agent does not start: it would trust nobody, or anybody.
        assertThatThrownBy(() -> NodeCredentials.open(dataDir.resolve("agents/fresh"), NodeId.of("fresh"),
                Optional.empty(), clock)).isInstanceOf(MvmException.class).hasMessageContaining("--ca-fingerprint");
    }

    @Test
    void aNodeWithAnotherNodesCertificateCannotReadOrReportItsInstances() throws Exception {
        Agent a = enrol("node-a");
        Agent b = enrol("node-b");
        // node-b's certificate, even with node-a's token, is node-b.
        for (String bearer : new String[] {null, a.token()}) {
            assertThat(call(asNode(b), "GET", "v1/nodes/node-a/desired", bearer, null).statusCode()).isEqualTo(403);
            assertThat(call(asNode(b), "POST", "v1/nodes/node-a/observed", bearer,
                    "{\"desired_generation\":0,\"instances\":[]}").statusCode()).isEqualTo(403);
            assertThat(call(asNode(b), "POST", "v1/nodes/node-a/heartbeat", bearer,
                    "{\"sent_at\":\"" + clock.instant() + "\",\"instance_count\":0}").statusCode()).isEqualTo(403);
            assertThat(call(asNode(b), "POST", "v1/nodes/node-a/certificate", bearer,
                    JSON.writeValueAsString(Map.of("csr", Certificates.csr(Certificates.newKeyPair(), "CN=node-a"))))
                    .statusCode()).isEqualTo(403);
        }
        assertThatThrownBy(() -> b.client().desired(NodeId.of("node-a"), OptionalLong.empty(), Duration.ZERO))
                .isInstanceOfSatisfying(MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(ErrorCategory.PERMISSION_DENIED));
        assertThat(call(asNode(b), "GET", "v1/nodes/node-b/desired", null, null).statusCode()).isEqualTo(200);

        // Revoking node-b's token cuts it off although its certificate is still valid.
        var tokens = JSON.readTree(call(noCertificate(), "GET", "v1/node-tokens", adminToken, null).body());
        for (JsonNode t : tokens.get("items")) {
            if (t.get("node_id").asText().equals("node-b")) {
                assertThat(call(noCertificate(), "DELETE", "v1/node-tokens/" + t.get("id").asText(), adminToken, null)
                        .statusCode()).isEqualTo(204);
            }
        }
        var revoked = call(asNode(b), "GET", "v1/nodes/node-b/desired", null, null);
        assertThat(revoked.statusCode()).isEqualTo(401);
        assertThat(revoked.body()).contains("revoked");
        assertThat(call(asNode(a), "GET", "v1/nodes/node-a/desired", null, null).statusCode()).isEqualTo(200);
    }

    @Test
    void anExpiredOrForeignCertificateIsRefused() throws Exception {
        Agent a = enrol("node-a");
        // A certificate of another CA for the same node id: refused in the handshake.
        var foreignCa = ClusterCa.create(clock.instant(), Duration.ofDays(1));
        var keys = Certificates.newKeyPair();
        var foreign = foreignCa.issueNode(NodeId.of("node-a"), Certificates.csr(keys, "CN=node-a"), clock.instant(),
                Duration.ofDays(1));
        var foreignCtx = TlsContexts.of(Optional.of(new KeyMaterial(new KeyMaterial.Loaded(keys.getPrivate(),
                List.of(foreign, foreignCa.certificate())))), ClusterTrust.coordinator(ca(), clock));
        assertThatThrownBy(() -> call(foreignCtx, "GET", "v1/nodes/node-a/desired", null, null))
                .isInstanceOf(IOException.class);

        // Past its end the node's own certificate is refused too. The coordinator's own was renewed
        // on the way (housekeeping), so it is the node's that fails.
        clock.advance(Duration.ofHours(2));
        coordinator.runHousekeeping();
        clock.advance(Duration.ofHours(2));
        coordinator.runHousekeeping();
        assertThat(coordinator.controlChannel().current().notAfter()).isAfter(clock.instant());
        assertThatThrownBy(() -> call(asNode(a), "GET", "v1/nodes/node-a/desired", null, null))
                .isInstanceOf(IOException.class);
        // Without a certificate the coordinator still answers (users carry tokens, not certificates).
        assertThat(call(noCertificate(), "GET", "v1/nodes", adminToken, null).statusCode()).isEqualTo(200);
    }

    @Test
    void certificatesAreRenewedBeforeExpiryWithoutARestart() throws Exception {
        Agent a = enrol("node-a");
        X509Certificate first = a.credentials().keys().current().leaf();
        X509Certificate coordinatorFirst = coordinator.controlChannel().current().leaf();
        assertThat(io.mvm.cli.agent.NodeAgent.renewIfDue(a.credentials(), a.client(), a.node())).isFalse();

        clock.advance(VALIDITY.multipliedBy(2).dividedBy(3).plusMinutes(1));
        // The coordinator renews its own in its housekeeping round; the node through the API, over mTLS.
        coordinator.runHousekeeping();
        assertThat(coordinator.controlChannel().current().leaf()).isNotEqualTo(coordinatorFirst);
        assertThat(io.mvm.cli.agent.NodeAgent.renewIfDue(a.credentials(), a.client(), a.node())).isTrue();
        X509Certificate second = a.credentials().keys().current().leaf();
        assertThat(second.getPublicKey()).isNotEqualTo(first.getPublicKey());
        assertThat(second.getNotAfter()).isAfter(first.getNotAfter());
        // Kept on disk for the next start.
        assertThat(Files.readString(dataDir.resolve("agents/node-a/tls/node.crt")))
                .isEqualTo(io.mvm.tls.Pem.encode(second));

        // Past the first certificate's end, the same client (same HttpClient, new connections) and the
        // same server go on with the renewed material.
        clock.advance(VALIDITY.dividedBy(3));
        try (var fresh = HttpClient.newBuilder().sslContext(asNode(a)).build()) {
            var r = fresh.send(HttpRequest.newBuilder(base.resolve("v1/nodes/node-a/desired")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.sslSession().orElseThrow().getPeerCertificates()[0])
                    .isNotEqualTo(coordinatorFirst);
        }
        a.client().heartbeat(a.node(), 0);
        // A restarted agent picks its renewed certificate up from disk.
        var reopened = NodeCredentials.open(dataDir.resolve("agents/node-a"), a.node(), Optional.empty(), clock);
        assertThat(reopened.keys().current().leaf()).isEqualTo(second);
    }

    @Test
    void aNodeWhoseCertificateExpiredWhileTheCoordinatorWasAwayEnrolsAgainWithItsToken() {
        Agent a = enrol("node-a");
        clock.advance(VALIDITY.multipliedBy(2).dividedBy(3).plusMinutes(1));
        coordinator.runHousekeeping();
        clock.advance(VALIDITY);
        coordinator.runHousekeeping();
        coordinator.runHousekeeping();
        // Past its end: the certificate is dropped, so the next request goes without one and is
        // refused (401), which makes the agent register again, and that registration enrols.
        assertThat(io.mvm.cli.agent.NodeAgent.renewIfDue(a.credentials(), a.client(), a.node())).isTrue();
        assertThat(a.credentials().enrolled()).isFalse();
        assertThatThrownBy(() -> a.client().heartbeat(a.node(), 0)).isInstanceOfSatisfying(MvmException.class,
                e -> assertThat(e.category()).isEqualTo(ErrorCategory.UNAUTHENTICATED));
        a.client().register(new NodeRegistration(a.node(), new Capacity(8, 16384, 100_000), Map.of(), Accelerator.TCG));
        assertThat(a.credentials().enrolled()).isTrue();
        assertThat(a.credentials().keys().current().notAfter()).isAfter(clock.instant());
        a.client().heartbeat(a.node(), 0);
    }

    @Test
    void theRelayServesOnlyTheCoordinatorsCertificateAndItsDerivedToken() throws Exception {
        Agent a = enrol("node-a");
        Agent b = enrol("node-b");
        var token = AgentToken.generate(new java.security.SecureRandom());
        token.acceptFromCoordinator(coordinator.controlChannel().relayToken(a.node()));
        try (var relay = RelayServer.start(new InetSocketAddress("127.0.0.1", 0), new Guests(), token,
                Optional.of(a.credentials().relayContext()))) {
            URI logs = URI.create(relay.url() + "/v1/instances/i-000000000001/logs?lines=1");
            assertThat(relay.url().getScheme()).isEqualTo("https");
            String bearer = "Bearer " + coordinator.controlChannel().relayToken(a.node());

            // The coordinator's client: its certificate, and only node-a's accepted on the other side.
            try (var ok = HttpClient.newBuilder().sslContext(coordinator.controlChannel().relayClientContext(a.node()))
                    .build()) {
                var r = ok.send(HttpRequest.newBuilder(logs).header("Authorization", bearer).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.body()).isEqualTo("console of i-000000000001");
            }
            // Without a client certificate, with another node's, or trusting the relay as node-b:
            // refused in the handshake, before any request is read.
            for (SSLContext wrong : List.of(TlsContexts.of(Optional.empty(), trustAnyNode()),
                    TlsContexts.of(Optional.of(b.credentials().keys()), trustAnyNode()))) {
                try (var c = HttpClient.newBuilder().sslContext(wrong).build()) {
                    assertThatThrownBy(() -> c.send(HttpRequest.newBuilder(logs).header("Authorization", bearer).build(),
                            HttpResponse.BodyHandlers.ofString())).isInstanceOf(IOException.class);
                }
            }
            try (var c = HttpClient.newBuilder().sslContext(coordinator.controlChannel().relayClientContext(b.node()))
                    .build()) {
                assertThatThrownBy(() -> c.send(HttpRequest.newBuilder(logs).header("Authorization", bearer).build(),
                        HttpResponse.BodyHandlers.ofString())).isInstanceOf(IOException.class);
            }
            // The coordinator's certificate with a wrong token: 401.
            try (var c = HttpClient.newBuilder().sslContext(coordinator.controlChannel().relayClientContext(a.node()))
                    .build()) {
                var r = c.send(HttpRequest.newBuilder(logs).header("Authorization", "Bearer " + token.value()).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(401);
            }
        }
    }

    private ClusterTrust trustAnyNode() {
        return new ClusterTrust(ca(), clock, p -> true, "any member");
    }

    @Test
    void tokensAreStoredHashedAndRelayTokensNotAtAll() throws Exception {
        Agent a = enrol("node-a");
        String relayToken = coordinator.controlChannel().relayToken(a.node());
        var admin = call(noCertificate(), "POST", "v1/node-tokens", adminToken, "{\"node_id\":\"node-z\"}");
        assertThat(admin.statusCode()).isEqualTo(201);
        JsonNode issued = JSON.readTree(admin.body());
        assertThat(issued.get("ca_fingerprint").asText()).isEqualTo(coordinator.controlChannel().caFingerprint());
        String raw = issued.get("token").asText();
        coordinator.stop();
        try (var db = DriverManager.getConnection("jdbc:sqlite:" + CoordinatorConfig.defaultDatabase(dataDir));
             var st = db.createStatement()) {
            StringBuilder everything = new StringBuilder();
            for (String table : List.of("api_tokens", "nodes")) {
                try (var rs = st.executeQuery("SELECT * FROM " + table)) {
                    int cols = rs.getMetaData().getColumnCount();
                    while (rs.next()) {
                        for (int i = 1; i <= cols; i++) {
                            everything.append(rs.getString(i)).append('|');
                        }
                    }
                }
            }
            assertThat(everything.toString()).doesNotContain(raw).doesNotContain(a.token()).doesNotContain(relayToken)
                    .contains(io.mvm.coordinator.auth.TokenAuthenticator.hash(raw))
                    .contains(io.mvm.coordinator.auth.TokenAuthenticator.hash(a.token()));
            try (var rs = st.executeQuery("SELECT agent_token FROM nodes")) {
                while (rs.next()) {
                    assertThat(rs.getString(1)).isNull();
                }
            }
        } finally {
            coordinator = Coordinator.start(CoordinatorConfig.defaults(dataDir).withListen("127.0.0.1", 0)
                    .withClock(clock).withTls(ControlTls.SECURE));
        }
    }

    /** The relay's guests: a console that names its instance. */
    private static final class Guests implements GuestAccess {
        @Override
        public GuestChannel.ExecResult exec(InstanceId id, GuestChannel.ExecRequest request,
                GuestChannel.ExecOutput output) {
            throw MvmException.notFound("no exec here");
        }

        @Override
        public String consoleTail(InstanceId id, int lines) {
            return "console of " + id;
        }

        @Override
        public GuestChannel.WorkloadStatus workload(InstanceId id) {
            throw MvmException.notFound("none");
        }

        @Override
        public io.mvm.agent.runtime.ClaimReport claim(io.mvm.core.reconcile.InstanceSpec spec) {
            throw MvmException.notFound("none");
        }
    }
}
