package io.mvm.tls;

import io.mvm.model.MvmException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Where a node learns the cluster CA to pin: a PEM file handed to it, or a fingerprint (printed by
 * {@code mvm node token create}) checked against the CA the coordinator presents in its chain.
 * Trust on first use, but only of the CA the operator named.
 */
public final class CaPin {
    private CaPin() {}

    public static X509Certificate fromFile(Path file) {
        var cert = Pem.certificate(SecureFiles.read(file));
        if (cert.getBasicConstraints() < 0) {
            throw MvmException.invalid(file + " is not a CA certificate");
        }
        return cert;
    }

    /**
     * Connects to {@code coordinator} and returns the CA certificate in its chain whose SHA-256
     * fingerprint is {@code fingerprint} and which signed the coordinator's certificate.
     */
    public static X509Certificate fetch(URI coordinator, String fingerprint, Duration timeout) {
        String wanted = fingerprint.strip().toLowerCase(java.util.Locale.ROOT).replace(":", "");
        wanted = wanted.startsWith("sha256") ? wanted.substring(6) : wanted;
        var seen = new AtomicReference<X509Certificate[]>();
        X509TrustManager recorder = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                seen.set(chain); // judged below, before anything is sent
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        int port = coordinator.getPort() < 0 ? 443 : coordinator.getPort();
        try {
            var ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(null, new TrustManager[] {recorder}, new SecureRandom());
            try (var socket = (SSLSocket) ctx.getSocketFactory().createSocket()) {
                socket.connect(new InetSocketAddress(coordinator.getHost(), port), (int) timeout.toMillis());
                socket.setSoTimeout((int) timeout.toMillis());
                socket.startHandshake();
            }
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw MvmException.unavailable("cannot fetch the cluster CA from " + coordinator + ": " + e.getMessage(), e);
        }
        X509Certificate[] chain = Optional.ofNullable(seen.get()).orElse(new X509Certificate[0]);
        for (X509Certificate c : chain) {
            String fp = Certificates.fingerprint(c).substring("sha256:".length());
            if (fp.equals(wanted) && c.getBasicConstraints() >= 0) {
                try {
                    chain[0].verify(c.getPublicKey());
                } catch (java.security.GeneralSecurityException e) {
                    break;
                }
                return c;
            }
        }
        throw MvmException.precondition("the coordinator at " + coordinator + " does not present a CA with fingerprint "
                + fingerprint + " (wrong fingerprint, or not the coordinator you think)");
    }
}
