package io.mvm.tls;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * The key and certificate chain a TLS endpoint presents, swappable while it serves: every new
 * handshake asks this key manager, so a renewed certificate is used from the next connection on
 * without restarting a server or rebuilding a client.
 */
public final class KeyMaterial extends X509ExtendedKeyManager {
    private static final String ALIAS = "mvm";

    /** A private key and its chain (leaf first, then the CA). */
    public record Loaded(PrivateKey key, List<X509Certificate> chain) {
        public Loaded {
            Objects.requireNonNull(key, "key");
            chain = List.copyOf(chain);
            if (chain.isEmpty()) {
                throw new IllegalArgumentException("empty certificate chain");
            }
        }

        public X509Certificate leaf() {
            return chain.getFirst();
        }

        public Instant notAfter() {
            return leaf().getNotAfter().toInstant();
        }

        public Instant renewAt() {
            return Certificates.renewAt(leaf());
        }

        @Override
        public String toString() {
            return "Loaded[" + leaf().getSubjectX500Principal().getName() + ", until " + notAfter() + ", key=(hidden)]";
        }
    }

    private final AtomicReference<Loaded> current;

    public KeyMaterial(Loaded initial) {
        this.current = new AtomicReference<>(Objects.requireNonNull(initial, "initial"));
    }

    /** Nothing to present yet (a node before its enrolment): clients send no certificate, servers cannot serve. */
    public static KeyMaterial empty() {
        return new KeyMaterial();
    }

    private KeyMaterial() {
        this.current = new AtomicReference<>();
    }

    public boolean isEmpty() {
        return current.get() == null;
    }

    /** The material presented now; IllegalStateException when there is none yet. */
    public Loaded current() {
        Loaded l = current.get();
        if (l == null) {
            throw new IllegalStateException("no certificate yet");
        }
        return l;
    }

    /** From the next handshake on, {@code next} is presented. */
    public void replace(Loaded next) {
        current.set(Objects.requireNonNull(next, "next"));
    }

    /** Nothing presented from the next handshake on (a certificate that has expired). */
    public void clear() {
        current.set(null);
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return new String[] {ALIAS};
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return isEmpty() ? null : ALIAS;
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        return isEmpty() ? null : ALIAS;
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return new String[] {ALIAS};
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return matches(keyType) ? ALIAS : null;
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return matches(keyType) ? ALIAS : null;
    }

    private boolean matches(String keyType) {
        // TLS 1.2 asks per key type ("EC", "RSA", "EC_EC"...); only offer ours.
        Loaded l = current.get();
        return l != null && (keyType == null || keyType.startsWith(l.key().getAlgorithm()));
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        Loaded l = current.get();
        return l == null ? null : l.chain().toArray(X509Certificate[]::new);
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        Loaded l = current.get();
        return l == null ? null : l.key();
    }
}
