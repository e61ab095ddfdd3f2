package io.mvm.core.scale;

import io.mvm.model.MvmException;

/**
 * A port an instance exposes on its node: the node's L4 proxy listens on {@code host} (0: a free
 * port the node picks and reports) and forwards to {@code guest} on the instance's tenant address.
 * Only TCP is proxied.
 */
public record PortMapping(int guest, int host, String protocol) {
    public static final String TCP = "tcp";

    public PortMapping {
        if (guest < 1 || guest > 65_535) {
            throw MvmException.invalid("port guest must be 1-65535, got " + guest);
        }
        if (host < 0 || host > 65_535) {
            throw MvmException.invalid("port host must be 0 (any free port) or 1-65535, got " + host);
        }
        if (protocol == null || protocol.isBlank()) {
            protocol = TCP;
        }
        if (!TCP.equals(protocol)) {
            throw MvmException.invalid("port protocol must be tcp, got '" + protocol + "'");
        }
    }

    public static PortMapping tcp(int guest, int host) {
        return new PortMapping(guest, host, TCP);
    }

    /** {@code 8080->0/tcp}: what the fingerprint of a desired entry and log lines use. */
    public String wire() {
        return guest + "->" + host + "/" + protocol;
    }
}
