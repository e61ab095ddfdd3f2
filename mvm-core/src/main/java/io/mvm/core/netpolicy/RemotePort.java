package io.mvm.core.netpolicy;

import io.mvm.model.InstanceId;
import io.mvm.model.TenantId;
import java.util.Objects;

/**
 * An instance of a tenant that runs on another host: its MAC and address, and the underlay
 * address of the host that runs it. Each becomes a static FDB entry (MAC → host), a neighbour
 * entry (address → MAC, answered locally: ARP never crosses the underlay) and the only source
 * MAC/address pair the tenant's VXLAN port admits from that host.
 */
public record RemotePort(InstanceId instance, TenantId tenant, MacAddress mac, Ipv4Address address, Ipv4Address host) {
    public RemotePort {
        Objects.requireNonNull(instance, "instance");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(mac, "mac");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(host, "host");
    }
}
