package io.mvm.core.netpolicy;

import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import java.util.List;
import java.util.Objects;

/**
 * A tenant's network as one host sees it: its cluster-wide network id (names the bridge), its
 * subnet (the bridge holds the first address), whether it may reach the outside through the host's
 * uplink (off unless asked for), and the routes its gateway guest sets up.
 */
public record TenantNetwork(TenantId tenant, int netId, Ipv4Subnet subnet, boolean egress,
        List<GatewayRoute> gatewayRoutes) {

    public TenantNetwork {
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(subnet, "subnet");
        DeviceNames.bridge(netId);
        if (subnet.prefixLength() < 8 || subnet.prefixLength() > 29) {
            throw MvmException.invalid("tenant " + tenant + ": subnet " + subnet
                    + " must have a prefix between /8 and /29 (room for the bridge and guests)");
        }
        gatewayRoutes = List.copyOf(gatewayRoutes);
    }

    public TenantNetwork(TenantId tenant, int netId, Ipv4Subnet subnet, boolean egress) {
        this(tenant, netId, subnet, egress, List.of());
    }

    public String bridgeName() {
        return DeviceNames.bridge(netId);
    }

    public Ipv4Address bridgeAddress() {
        return subnet.firstHost();
    }

    /** The bridge address with the subnet's prefix, as iproute2 prints it. */
    public String bridgeCidr() {
        return bridgeAddress() + "/" + subnet.prefixLength();
    }
}
