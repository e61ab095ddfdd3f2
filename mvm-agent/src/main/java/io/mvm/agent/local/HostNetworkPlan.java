package io.mvm.agent.local;

import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.Ipv4Address;
import io.mvm.core.netpolicy.Ipv4Subnet;
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
        return new HostNetworkSpec(tableName, uplink, List.copyOf(tenants.values()), ports, List.of(), standby);
    }
}
