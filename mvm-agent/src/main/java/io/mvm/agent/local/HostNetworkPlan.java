package io.mvm.agent.local;

import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.Ipv4Address;
import io.mvm.core.netpolicy.Ipv4Subnet;
import io.mvm.core.netpolicy.Overlay;
import io.mvm.core.netpolicy.OverlayPeers;
import io.mvm.core.netpolicy.RemotePort;
import io.mvm.core.netpolicy.StandbyPort;
import io.mvm.core.netpolicy.TenantNetwork;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The desired network of this host, derived from the instances the agent keeps (pure): one tenant
 * network per tenant with a networked instance here, one tap per networked instance. Everything
 * else the table owns is removed by the applier, which is how a destroyed instance's tap goes.
 */
public final class HostNetworkPlan {
    private HostNetworkPlan() {}

    public static HostNetworkSpec of(String tableName, Optional<String> uplink, Collection<InstanceRecord> records) {
        return of(tableName, uplink, records, Optional.empty(), List.of());
    }

    /**
     * With an overlay, also the remote instances of the tenants that have an instance here (peers
     * of tenants that do not run here are left out: their devices would reach nobody local), as
     * long as their network is the one the local instances are on.
     */
    public static HostNetworkSpec of(String tableName, Optional<String> uplink, Collection<InstanceRecord> records,
                                     Optional<Overlay> overlay, List<OverlayPeers.Peer> peers) {
        Map<TenantId, TenantNetwork> tenants = new TreeMap<>();
        List<InstancePort> ports = new ArrayList<>();
        List<StandbyPort> standby = new ArrayList<>();
        for (InstanceRecord r : records) {
            if (r.standby()) {
                standby.add(StandbyPort.of(r.instanceId()));
                continue;
            }
            if (!r.networked()) {
                continue;
            }
            Ipv4Address address = Ipv4Address.parse(r.ip());
            int mask = r.prefix() == 0 ? 0 : -1 << (32 - r.prefix());
            var subnet = new Ipv4Subnet(new Ipv4Address(address.bits() & mask), r.prefix());
            var tenant = new TenantNetwork(r.tenantId(), r.netId(), subnet, false);
            var known = tenants.putIfAbsent(r.tenantId(), tenant);
            if (known != null && (known.netId() != tenant.netId() || !known.subnet().equals(tenant.subnet()))) {
                throw MvmException.invalid("tenant " + r.tenant() + " has instances on two networks here: "
                        + known.subnet() + " (net " + known.netId() + ") and " + subnet + " (net " + r.netId() + ")");
            }
            ports.add(InstancePort.tap(r.instanceId(), r.tenantId(), address, r.roleValue()));
        }
        List<RemotePort> remotes = new ArrayList<>();
        if (overlay.isPresent()) {
            java.util.Set<io.mvm.model.InstanceId> local = new java.util.HashSet<>();
            ports.forEach(p -> local.add(p.instance()));
            standby.forEach(p -> local.add(p.instance()));
            for (OverlayPeers.Peer p : peers) {
                TenantNetwork t = tenants.get(p.tenant());
                // A peer the agent still keeps a record of (a move in progress) stays local until it is gone.
                if (t != null && t.netId() == p.netId() && t.subnet().isGuestAddress(p.address())
                        && !local.contains(p.instance())) {
                    remotes.add(p.remotePort());
                }
            }
        }
        return new HostNetworkSpec(tableName, uplink, List.copyOf(tenants.values()), ports, List.of(), standby,
                overlay, remotes);
    }
}
