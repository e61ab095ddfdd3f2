package io.mvm.agent.local;

import io.mvm.runtime.hostnet.HostNetworkApplier;
import java.util.Optional;

/**
 * How the agent wires its instances to their tenant networks. {@link Host} is the real thing:
 * tenant bridges, taps and mvm's nftables tables on this host. {@link None} boots VMs without a NIC
 * — for several agents sharing one host in tests or demos, where each would otherwise claim the
 * same tenant bridge ({@code mvb<netId>}).
 */
public sealed interface AgentNetwork {

    /**
     * @param overlay this host's underlay address: with it, tenant networks extend to the other
     *                nodes that run the same tenant (VXLAN; docs/networking.md, "Across hosts")
     */
    record Host(HostNetworkApplier applier, String tableName, Optional<String> uplink,
                Optional<io.mvm.core.netpolicy.Overlay> overlay) implements AgentNetwork {
        public Host(HostNetworkApplier applier, String tableName, Optional<String> uplink) {
            this(applier, tableName, uplink, Optional.empty());
        }
    }

    record None() implements AgentNetwork {}
}
