package io.mvm.core.netpolicy;

import java.util.Objects;

/** A route a tenant's gateway guest installs: traffic for {@code destination} goes via {@code via}. */
public record GatewayRoute(Ipv4Subnet destination, Ipv4Address via) {
    public GatewayRoute {
        Objects.requireNonNull(destination, "destination");
        Objects.requireNonNull(via, "via");
    }
}
