package io.mvm.tls;

import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's certificate authority: signs the coordinator's certificate and each node's (from
 * the node's CSR, so a node's key never leaves it). Kept by the coordinator as two PEM files, the
 * key 0600; several coordinators of one cluster are started with the same pair.
 */
public final class ClusterCa {
    private static final Logger log = LoggerFactory.getLogger(ClusterCa.class);
    public static final Duration CA_VALIDITY = Duration.ofDays(3650);

    private final X509Certificate cert;
    private final PrivateKey key;

    public ClusterCa(X509Certificate cert, PrivateKey key) {
        this.cert = cert;
        this.key = key;
    }

    /** Creates a fresh CA in memory (tests, and {@link #loadOrCreate}). */
    public static ClusterCa create(Instant now, Duration validity) {
        KeyPair keys = Certificates.newKeyPair();
        return new ClusterCa(Certificates.selfSignedCa(keys, "CN=mvm cluster CA " + now.getEpochSecond()
                + ",O=" + PeerIdentity.ORG, now, validity), keys.getPrivate());
    }

    /** Loads the pair; a key file that others can read is refused. */
    public static ClusterCa load(Path certFile, Path keyFile) {
        if (!Files.isRegularFile(certFile) || !Files.isRegularFile(keyFile)) {
            throw MvmException.precondition("CA certificate " + certFile + " or key " + keyFile + " does not exist");
        }
        SecureFiles.requirePrivate(keyFile);
        var ca = new ClusterCa(Pem.certificate(SecureFiles.read(certFile)), Pem.privateKey(SecureFiles.read(keyFile)));
        if (ca.cert.getBasicConstraints() < 0) {
            throw MvmException.invalid(certFile + " is not a CA certificate");
        }
        return ca;
    }

    /** The CA in {@code dir} ({@code ca.crt}, {@code ca.key}), created there on first use. */
    public static ClusterCa loadOrCreate(Path dir, Instant now) {
        Path certFile = dir.resolve("ca.crt");
        Path keyFile = dir.resolve("ca.key");
        if (Files.exists(certFile) || Files.exists(keyFile)) {
            return load(certFile, keyFile);
        }
        var ca = create(now, CA_VALIDITY);
        // The key first: a crash in between leaves a key without certificate, which load() reports.
        SecureFiles.write(keyFile, Pem.encode(ca.key), true);
        SecureFiles.write(certFile, Pem.encode(ca.cert), false);
        log.info("created the cluster CA in {} ({})", dir, ca.fingerprint());
        return ca;
    }

    public X509Certificate certificate() {
        return cert;
    }

    public String fingerprint() {
        return Certificates.fingerprint(cert);
    }

    /**
     * A certificate for {@code node} for the key in {@code csrPem}: subject {@code CN=<node>,
     * OU=node}, SAN DNS {@code <node>}; the CSR's own subject and extensions are ignored.
     */
    public X509Certificate issueNode(NodeId node, String csrPem, Instant now, Duration validity) {
        var publicKey = Certificates.verifiedKey(Pem.csr(csrPem));
        return Certificates.leaf(cert, key, publicKey, PeerIdentity.nodeSubject(node), dnsSafe(node.value()),
                now.minusSeconds(60), notAfter(now, validity));
    }

    /** A fresh key and certificate for the coordinator (server for agents and CLI, client of relays). */
    public KeyMaterial.Loaded issueCoordinator(List<String> sans, Instant now, Duration validity) {
        KeyPair keys = Certificates.newKeyPair();
        var leaf = Certificates.leaf(cert, key, keys.getPublic(), PeerIdentity.coordinatorSubject(), sans,
                now.minusSeconds(60), notAfter(now, validity));
        return new KeyMaterial.Loaded(keys.getPrivate(), List.of(leaf, cert));
    }

    private Instant notAfter(Instant now, Duration validity) {
        Instant end = now.plus(validity);
        Instant caEnd = cert.getNotAfter().toInstant();
        return end.isAfter(caEnd) ? caEnd : end;
    }

    private static List<String> dnsSafe(String name) {
        return name.matches("[a-z0-9]([a-z0-9.-]*[a-z0-9])?") ? List.of(name) : List.of();
    }

    /**
     * Key for the relay tokens the coordinator derives per node: a hash of the CA key, so every
     * coordinator holding the CA derives the same tokens and the database never holds one.
     */
    public byte[] relayKey() {
        try {
            var md = MessageDigest.getInstance("SHA-256");
            md.update("mvm relay token key v1".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            md.update(key.getEncoded());
            return md.digest();
        } catch (GeneralSecurityException e) {
            throw MvmException.internal("SHA-256 is part of every JDK", e);
        }
    }

    /** Whether {@code other} is this CA's certificate. */
    public boolean is(Optional<X509Certificate> other) {
        return other.map(cert::equals).orElse(false);
    }

    @Override
    public String toString() {
        return "ClusterCa[" + cert.getSubjectX500Principal().getName() + ", key=(hidden)]";
    }
}
