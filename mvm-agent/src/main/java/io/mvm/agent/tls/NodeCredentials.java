package io.mvm.agent.tls;

import io.mvm.agent.coordinator.Enrolment;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.tls.Certificates;
import io.mvm.tls.ClusterTrust;
import io.mvm.tls.KeyMaterial;
import io.mvm.tls.Pem;
import io.mvm.tls.PeerIdentity;
import io.mvm.tls.SecureFiles;
import io.mvm.tls.TlsContexts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's certificate and the cluster CA it pins, under {@code <data>/agent/tls/}: {@code node.key}
 * (0600, made here and never sent anywhere), {@code node.crt}, {@code ca.crt}. Until it has a
 * certificate for its node id from the pinned CA, every registration carries a CSR; after two
 * thirds of the certificate's lifetime {@link #renewIfDue} gets a new one for a new key. The key
 * material is swapped in place, so the coordinator client and the relay server use the new
 * certificate from their next connection on, without a restart.
 */
public final class NodeCredentials implements Enrolment {
    private static final Logger log = LoggerFactory.getLogger(NodeCredentials.class);
    private final Path dir;
    private final NodeId node;
    private final X509Certificate ca;
    private final InstantSource clock;
    private final KeyMaterial keys = KeyMaterial.empty();
    private volatile KeyPair pending;
    private final List<SSLContext> contexts = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile Consumer<String> relayTokens = t -> { };

    private NodeCredentials(Path dir, NodeId node, X509Certificate ca, InstantSource clock) {
        this.dir = dir;
        this.node = node;
        this.ca = ca;
        this.clock = clock;
    }

    /**
     * Opens the credentials in {@code agentDir/tls}, pinning {@code ca} (saved there) or the CA saved
     * before. A stored certificate is used when the pinned CA signed it for this node and it is
     * still valid; otherwise the next registration enrols again.
     */
    public static NodeCredentials open(Path agentDir, NodeId node, Optional<X509Certificate> ca, InstantSource clock) {
        Path dir = agentDir.resolve("tls");
        Path caFile = dir.resolve("ca.crt");
        X509Certificate pinned;
        if (ca.isPresent()) {
            pinned = ca.get();
            SecureFiles.write(caFile, Pem.encode(pinned), false);
        } else if (Files.isRegularFile(caFile)) {
            pinned = Pem.certificate(SecureFiles.read(caFile));
        } else {
            throw MvmException.invalid("the agent does not know the cluster CA yet: start it once with --ca-cert FILE"
                    + " or --ca-fingerprint sha256:... (mvm node token create prints both)");
        }
        var credentials = new NodeCredentials(dir, node, pinned, clock);
        credentials.loadStored();
        return credentials;
    }

    private void loadStored() {
        Path keyFile = dir.resolve("node.key");
        Path certFile = dir.resolve("node.crt");
        if (!Files.isRegularFile(keyFile) || !Files.isRegularFile(certFile)) {
            return;
        }
        try {
            SecureFiles.requirePrivate(keyFile);
            PrivateKey key = Pem.privateKey(SecureFiles.read(keyFile));
            X509Certificate cert = Pem.certificate(SecureFiles.read(certFile));
            var id = new ClusterTrust(ca, clock, p -> p.equals(new PeerIdentity.Node(node)), "node " + node)
                    .check(new X509Certificate[] {cert});
            keys.replace(new KeyMaterial.Loaded(key, List.of(cert, ca)));
            log.info("node certificate for {} valid until {}", id, cert.getNotAfter().toInstant());
        } catch (Exception e) {
            log.warn("the stored node certificate is not usable ({}); enrolling again", e.getMessage());
        }
    }

    public X509Certificate ca() {
        return ca;
    }

    public KeyMaterial keys() {
        return keys;
    }

    /** Whether a certificate is held (enrolment done). */
    public boolean enrolled() {
        return !keys.isEmpty();
    }

    /** Towards the coordinator: pins the CA, accepts only the coordinator's certificate, presents the node's. */
    public SSLContext clientContext() {
        var ctx = TlsContexts.of(Optional.of(keys), ClusterTrust.coordinator(ca, clock));
        contexts.add(ctx);
        return ctx;
    }

    @Override
    public Optional<SSLContext> enrolmentTls() {
        return Optional.of(TlsContexts.of(Optional.empty(), ClusterTrust.coordinator(ca, clock)));
    }

    /**
     * Client sessions made with the previous certificate are dropped when it is replaced: a resumed
     * TLS session carries the identity of the handshake that made it, which may be one that has
     * since expired (or, for an enrolment, none).
     */
    private void forgetSessions() {
        for (SSLContext ctx : contexts) {
            var sessions = ctx.getClientSessionContext();
            for (var ids = sessions.getIds(); ids.hasMoreElements(); ) {
                var session = sessions.getSession(ids.nextElement());
                if (session != null) {
                    session.invalidate();
                }
            }
        }
    }

    /** The relay server: presents the node's certificate, accepts only the coordinator's. */
    public SSLContext relayContext() {
        return TlsContexts.of(Optional.of(keys), ClusterTrust.coordinator(ca, clock));
    }

    /** Where the relay token the coordinator names at registration goes (the relay server's token). */
    public void onRelayToken(Consumer<String> sink) {
        this.relayTokens = sink;
    }

    @Override
    public Optional<String> csr() {
        if (enrolled() && clock.instant().isBefore(keys.current().renewAt())) {
            return Optional.empty();
        }
        KeyPair next = Certificates.newKeyPair();
        pending = next;
        return Optional.of(Certificates.csr(next, PeerIdentity.nodeSubject(node)));
    }

    @Override
    public void accepted(Optional<String> certificatePem, Optional<String> caPem, Optional<String> relayToken) {
        relayToken.ifPresent(relayTokens);
        certificatePem.ifPresent(pem -> install(pem, caPem));
    }

    /**
     * When two thirds of the certificate's lifetime have passed, asks {@code renew} (CSR in, PEM
     * certificate and CA out) for one for a new key. True when it renewed.
     */
    public boolean renewIfDue(java.util.function.Function<String, List<String>> renew) {
        if (!enrolled() || clock.instant().isBefore(keys.current().renewAt())) {
            return false;
        }
        if (!clock.instant().isBefore(keys.current().notAfter())) {
            // Expired (the coordinator was out of reach all through the renewal window): no
            // handshake would succeed with it. Without a certificate the next request is refused
            // (401), the agent registers again, and the registration enrols with the node token.
            log.warn("the node certificate expired at {}; enrolling again at the next registration",
                    keys.current().notAfter());
            keys.clear();
            forgetSessions();
            return true;
        }
        var csr = csr().orElseThrow();
        var answer = renew.apply(csr);
        install(answer.get(0), answer.size() > 1 && !answer.get(1).isBlank() ? Optional.of(answer.get(1)) : Optional.empty());
        return true;
    }

    private synchronized void install(String certPem, Optional<String> caPem) {
        KeyPair key = pending;
        if (key == null) {
            throw MvmException.internal("a certificate arrived for no request", null);
        }
        caPem.map(Pem::certificate).filter(c -> !c.equals(ca)).ifPresent(c -> {
            throw MvmException.precondition("the coordinator named another cluster CA than the pinned one ("
                    + Certificates.fingerprint(c) + " vs " + Certificates.fingerprint(ca) + ")");
        });
        X509Certificate cert = Pem.certificate(certPem);
        if (!cert.getPublicKey().equals(key.getPublic())) {
            throw MvmException.internal("the coordinator's certificate is not for the key this node asked about", null);
        }
        try {
            new ClusterTrust(ca, clock, p -> p.equals(new PeerIdentity.Node(node)), "node " + node)
                    .check(new X509Certificate[] {cert});
        } catch (java.security.cert.CertificateException e) {
            throw MvmException.precondition("the certificate the coordinator issued is unusable: " + e.getMessage());
        }
        // The key first: a crash between the two writes leaves a key without its certificate,
        // which loadStored() rejects, and the next registration enrols again.
        SecureFiles.write(dir.resolve("node.key"), Pem.encode(key.getPrivate()), true);
        SecureFiles.write(dir.resolve("node.crt"), Pem.encode(cert), false);
        keys.replace(new KeyMaterial.Loaded(key.getPrivate(), List.of(cert, ca)));
        forgetSessions();
        pending = null;
        log.info("node {} holds a certificate valid until {}", node, cert.getNotAfter().toInstant());
    }
}
