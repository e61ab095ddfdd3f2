package io.mvm.coordinator.tls;

import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.tls.ClusterCa;
import io.mvm.tls.ClusterTrust;
import io.mvm.tls.KeyMaterial;
import io.mvm.tls.Pem;
import io.mvm.tls.PeerIdentity;
import io.mvm.tls.TlsContexts;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.InstantSource;
import java.util.Base64;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's side of the control channel: the cluster CA, its own certificate (issued at
 * start, renewed in memory after two thirds of its life: the key is never written anywhere), node
 * certificates from CSRs, and the relay tokens it derives per node.
 */
public final class ControlChannel {
    private static final Logger log = LoggerFactory.getLogger(ControlChannel.class);
    private final ControlTls settings;
    private final ClusterCa ca;
    private final KeyMaterial keys;
    private final InstantSource clock;
    private final SSLContext serverContext;

    private ControlChannel(ControlTls settings, ClusterCa ca, InstantSource clock) {
        this.settings = settings;
        this.ca = ca;
        this.clock = clock;
        this.keys = new KeyMaterial(ca.issueCoordinator(settings.sans(), clock.instant(), settings.certValidity()));
        this.serverContext = TlsContexts.of(Optional.of(keys), ClusterTrust.anyMember(ca.certificate(), clock));
    }

    /** Loads the given CA, or the one under {@code <dataDir>/coordinator/tls} (created on first start). */
    public static ControlChannel open(ControlTls settings, Path dataDir, InstantSource clock) {
        ClusterCa ca = settings.caCert().isPresent()
                ? ClusterCa.load(settings.caCert().get(), settings.caKey().orElseThrow())
                : ClusterCa.loadOrCreate(caDir(dataDir), clock.instant());
        if (settings.insecure()) {
            log.warn("--insecure: the control channel is plain HTTP; tokens and workloads cross the network in the"
                    + " clear and nodes are not authenticated by certificate. Use it only on a trusted loopback or in tests.");
        }
        return new ControlChannel(settings, ca, clock);
    }

    public static Path caDir(Path dataDir) {
        return dataDir.resolve("coordinator").resolve("tls");
    }

    public boolean insecure() {
        return settings.insecure();
    }

    /** The server side: presents the coordinator's certificate, asks callers for theirs (users have none). */
    public Optional<SSLContext> serverContext() {
        return settings.insecure() ? Optional.empty() : Optional.of(serverContext);
    }

    /** The client side towards node {@code node}'s relay: presents the coordinator's certificate, accepts only that node's. */
    public SSLContext relayClientContext(NodeId node) {
        return TlsContexts.of(Optional.of(keys), new ClusterTrust(ca.certificate(), clock,
                p -> p instanceof PeerIdentity.Node(NodeId n) && n.equals(node), "node " + node));
    }

    public X509Certificate caCertificate() {
        return ca.certificate();
    }

    public String caPem() {
        return Pem.encode(ca.certificate());
    }

    public String caFingerprint() {
        return ca.fingerprint();
    }

    /** The identity a verified client certificate speaks for (the chain was checked in the handshake). */
    public Optional<PeerIdentity> identify(X509Certificate[] chain) {
        if (settings.insecure() || chain == null || chain.length == 0) {
            return Optional.empty();
        }
        try {
            return Optional.of(ClusterTrust.anyMember(ca.certificate(), clock).check(chain));
        } catch (java.security.cert.CertificateException e) {
            return Optional.empty();
        }
    }

    /** A certificate for {@code node}'s key (in its CSR), PEM. */
    public String issueNode(NodeId node, String csrPem) {
        return Pem.encode(ca.issueNode(node, csrPem, clock.instant(), settings.certValidity()));
    }

    /** Renews the coordinator's own certificate when two thirds of its life have passed. */
    public boolean renewIfDue() {
        if (clock.instant().isBefore(keys.current().renewAt())) {
            return false;
        }
        keys.replace(ca.issueCoordinator(settings.sans(), clock.instant(), settings.certValidity()));
        log.info("renewed the coordinator's certificate, valid until {}", keys.current().notAfter());
        return true;
    }

    public KeyMaterial.Loaded current() {
        return keys.current();
    }

    /**
     * The bearer token node {@code node}'s relay accepts from the coordinator: HMAC-SHA256 of the
     * node id under a key derived from the CA key. Derived, never stored: the database holds no
     * relay secret, and every coordinator holding the CA derives the same token.
     */
    public String relayToken(NodeId node) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(ca.relayKey(), "HmacSHA256"));
            return "mvmr_" + Base64.getUrlEncoder().withoutPadding().encodeToString(
                    mac.doFinal(node.value().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw MvmException.internal("HmacSHA256 is part of every JDK", e);
        }
    }
}
