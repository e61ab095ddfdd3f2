package io.mvm.agent.coordinator;

import java.util.Optional;

/**
 * The node's side of certificate enrolment, plugged into {@link HttpCoordinatorClient}: what a
 * registration sends (a CSR for the node's own key, when it needs a certificate) and what it does
 * with the answer (the certificate, the CA to pin, the relay token the coordinator presents).
 */
public interface Enrolment {
    /** A PEM CSR to send with this registration, or empty when the node needs no certificate. */
    Optional<String> csr();

    /**
     * The TLS context an enrolling registration uses: one of its own, so the session it makes
     * without a certificate is never resumed by the requests that follow (empty: the client's).
     */
    default Optional<javax.net.ssl.SSLContext> enrolmentTls() {
        return Optional.empty();
    }

    /** The registration's answer. */
    void accepted(Optional<String> certificatePem, Optional<String> caPem, Optional<String> relayToken);
}
