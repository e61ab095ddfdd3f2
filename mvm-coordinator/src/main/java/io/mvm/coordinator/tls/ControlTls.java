package io.mvm.coordinator.tls;

import io.mvm.model.MvmException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * How the control channel is secured. {@code insecure}: plain HTTP (the cluster CA still exists:
 * relay tokens derive from its key). Otherwise HTTPS with a certificate from the cluster CA
 * ({@code caCert}/{@code caKey}, or one created under the data dir), carrying {@code sans}.
 *
 * @param certValidity lifetime of the coordinator's and the nodes' certificates; they are renewed
 *                     after two thirds of it
 * @param renewCheck   how often the coordinator looks whether its own certificate is due
 */
public record ControlTls(boolean insecure, Optional<Path> caCert, Optional<Path> caKey, List<String> sans,
                         Duration certValidity, Duration renewCheck) {
    public static final Duration DEFAULT_VALIDITY = Duration.ofDays(30);
    public static final List<String> DEFAULT_SANS = List.of("localhost", "127.0.0.1", "::1");
    /** Plain HTTP: for tests and embedded use that ask for it. */
    public static final ControlTls INSECURE = new ControlTls(true, Optional.empty(), Optional.empty(), DEFAULT_SANS,
            DEFAULT_VALIDITY, Duration.ofMinutes(1));
    /** HTTPS with a CA under the data dir. */
    public static final ControlTls SECURE = new ControlTls(false, Optional.empty(), Optional.empty(), DEFAULT_SANS,
            DEFAULT_VALIDITY, Duration.ofMinutes(1));

    public ControlTls {
        if (caCert.isPresent() != caKey.isPresent()) {
            throw MvmException.invalid("--ca-cert and --ca-key go together");
        }
        sans = List.copyOf(sans);
        if (certValidity.compareTo(Duration.ofSeconds(3)) < 0) {
            throw MvmException.invalid("certificate validity must be at least 3 seconds, got " + certValidity);
        }
        if (renewCheck.isNegative() || renewCheck.isZero()) {
            throw MvmException.invalid("renewal check interval must be positive");
        }
    }

    public ControlTls withCa(Path cert, Path key) {
        return new ControlTls(insecure, Optional.of(cert), Optional.of(key), sans, certValidity, renewCheck);
    }

    public ControlTls withSans(List<String> more) {
        return new ControlTls(insecure, caCert, caKey, more, certValidity, renewCheck);
    }

    public ControlTls withValidity(Duration validity, Duration check) {
        return new ControlTls(insecure, caCert, caKey, sans, validity, check);
    }
}
