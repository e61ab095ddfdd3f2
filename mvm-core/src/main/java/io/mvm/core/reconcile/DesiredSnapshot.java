package io.mvm.core.reconcile;

import java.util.List;

/**
 * The coordinator's desired state for this node at one generation. Only an authoritative snapshot
 * (one the coordinator actually sent since this agent started) may make the node create or destroy
 * anything: after a restart the agent must not revive or kill VMs on a guess.
 */
public record DesiredSnapshot(long generation, boolean authoritative, List<DesiredInstance> instances,
                              List<io.mvm.core.netpolicy.OverlayPeers.Peer> peers) {
    public DesiredSnapshot {
        instances = List.copyOf(instances);
        peers = List.copyOf(peers);
    }

    /** A snapshot without instances of other nodes to reach (no tenant network spans this node and another). */
    public DesiredSnapshot(long generation, boolean authoritative, List<DesiredInstance> instances) {
        this(generation, authoritative, instances, List.of());
    }

    /** What an agent knows before its first desired-state response. */
    public static DesiredSnapshot unconfirmed() {
        return new DesiredSnapshot(-1, false, List.of());
    }

    public static DesiredSnapshot confirmed(long generation, List<DesiredInstance> instances) {
        return new DesiredSnapshot(generation, true, instances);
    }

    public static DesiredSnapshot confirmed(long generation, List<DesiredInstance> instances,
                                            List<io.mvm.core.netpolicy.OverlayPeers.Peer> peers) {
        return new DesiredSnapshot(generation, true, instances, peers);
    }
}
