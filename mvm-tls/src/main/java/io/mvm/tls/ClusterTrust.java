package io.mvm.tls;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Date;
import java.util.Optional;
import java.util.function.Predicate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trusts exactly the certificates the pinned cluster CA signed, valid at the injected clock's
 * now, whose identity {@code accepts}. It is an extended trust manager, so JSSE adds no host
 * name check of its own: peers are identified by the identity the CA wrote into the subject
 * (the coordinator, or node X), which is stronger than matching an address that may be
 * shared, translated or reused.
 */
public final class ClusterTrust extends X509ExtendedTrustManager {
    private final X509Certificate ca;
    private final InstantSource clock;
    private final Predicate<PeerIdentity> accepts;
    private final String wanted;

    public ClusterTrust(X509Certificate ca, InstantSource clock, Predicate<PeerIdentity> accepts, String wanted) {
        this.ca = ca;
        this.clock = clock;
        this.accepts = accepts;
        this.wanted = wanted;
    }

    /** Peers that are the coordinator (what agents and the CLI dial). */
    public static ClusterTrust coordinator(X509Certificate ca, InstantSource clock) {
        return new ClusterTrust(ca, clock, p -> p instanceof PeerIdentity.Coordinator, "the coordinator");
    }

    /** Any node or coordinator of the cluster (the coordinator's server: who it is decides the route). */
    public static ClusterTrust anyMember(X509Certificate ca, InstantSource clock) {
        return new ClusterTrust(ca, clock, p -> true, "a cluster member");
    }

    /** Checks a chain whose leaf comes first; returns the identity or throws. */
    public PeerIdentity check(X509Certificate[] chain) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("no certificate presented");
        }
        X509Certificate leaf = chain[0];
        Instant now = clock.instant();
        try {
            leaf.verify(ca.getPublicKey());
        } catch (GeneralSecurityException e) {
            throw new CertificateException("certificate '" + leaf.getSubjectX500Principal().getName()
                    + "' is not signed by this cluster's CA");
        }
        try {
            ca.checkValidity(Date.from(now));
            leaf.checkValidity(Date.from(now));
        } catch (CertificateException e) {
            throw new CertificateException("certificate '" + leaf.getSubjectX500Principal().getName()
                    + "' is not valid at " + now + " (valid " + leaf.getNotBefore().toInstant() + " to "
                    + leaf.getNotAfter().toInstant() + ")", e);
        }
        Optional<PeerIdentity> id = PeerIdentity.of(leaf);
        if (id.isEmpty() || !accepts.test(id.get())) {
            throw new CertificateException("certificate '" + leaf.getSubjectX500Principal().getName()
                    + "' does not belong to " + wanted);
        }
        return id.get();
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[] {ca};
    }
}
