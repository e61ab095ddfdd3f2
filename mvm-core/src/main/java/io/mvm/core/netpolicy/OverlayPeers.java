package io.mvm.core.netpolicy;

import io.mvm.model.InstanceId;
import io.mvm.model.NodeId;
import io.mvm.model.TenantId;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which instances of other nodes a node must reach over VXLAN (pure; the coordinator runs it for
 * every node on every scheduling pass): for each tenant with an instance placed on the node, every
 * instance of that tenant placed on another node that registered an underlay address. A node
 * without an underlay address gets none (it cannot join an overlay), and a node learns nothing
 * about tenants it does not run — the peer list is also what its nftables admit from the
 * underlay, so it is kept to what the node needs.
 */
public final class OverlayPeers {
    private OverlayPeers() {}

    /** An instance with a network, placed on a node (what the coordinator knows). */
    public record Placed(InstanceId instance, TenantId tenant, int netId, MacAddress mac, Ipv4Address address,
                        NodeId node) {
        public Placed {
            Objects.requireNonNull(instance, "instance");
            Objects.requireNonNull(tenant, "tenant");
            Objects.requireNonNull(mac, "mac");
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(node, "node");
        }
    }

    /** A remote instance as a node receives it: who, where (node and its underlay address). */
    public record Peer(InstanceId instance, TenantId tenant, int netId, MacAddress mac, Ipv4Address address,
                       NodeId node, Ipv4Address underlay) {
        public Peer {
            Objects.requireNonNull(instance, "instance");
            Objects.requireNonNull(tenant, "tenant");
            Objects.requireNonNull(mac, "mac");
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(node, "node");
            Objects.requireNonNull(underlay, "underlay");
        }

        public RemotePort remotePort() {
            return new RemotePort(instance, tenant, mac, address, underlay);
        }
    }

    public static List<Peer> forNode(NodeId node, List<Placed> placed, Map<NodeId, Ipv4Address> underlays) {
        if (!underlays.containsKey(node)) {
            return List.of();
        }
        Set<TenantId> here = placed.stream().filter(p -> p.node().equals(node)).map(Placed::tenant)
                .collect(Collectors.toSet());
        List<Peer> out = new ArrayList<>();
        for (Placed p : placed) {
            if (p.node().equals(node) || !here.contains(p.tenant())) {
                continue;
            }
            Optional<Ipv4Address> underlay = Optional.ofNullable(underlays.get(p.node()));
            if (underlay.isEmpty() || underlay.get().equals(underlays.get(node))) {
                // No underlay: that node cannot be reached. The same one as ours: a misconfigured
                // fleet, and an entry pointing at ourselves would loop; both are left out.
                continue;
            }
            out.add(new Peer(p.instance(), p.tenant(), p.netId(), p.mac(), p.address(), p.node(), underlay.get()));
        }
        out.sort(Comparator.comparing(Peer::instance));
        return List.copyOf(out);
    }
}
