package io.mvm.tls;

import io.mvm.model.MvmException;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Optional;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

/** SSLContexts over {@link KeyMaterial} (optional: a client without a certificate) and {@link ClusterTrust}. */
public final class TlsContexts {
    private TlsContexts() {}

    public static SSLContext of(Optional<KeyMaterial> keys, ClusterTrust trust) {
        try {
            var ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(keys.map(k -> new KeyManager[] {k}).orElse(new KeyManager[0]), new TrustManager[] {trust},
                    new SecureRandom());
            return ctx;
        } catch (GeneralSecurityException e) {
            throw MvmException.internal("cannot set up TLS", e);
        }
    }
}
