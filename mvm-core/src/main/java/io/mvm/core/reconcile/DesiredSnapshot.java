package io.mvm.core.reconcile;

import java.util.List;

/**
 * The coordinator's desired state for this node at one generation. Only an authoritative snapshot
 * (one the coordinator actually sent since this agent started) may make the node create or destroy
 * anything: after a restart the agent must not revive or kill VMs on a guess.
 */
public record DesiredSnapshot(long generation, boolean authoritative, List<DesiredInstance> instances) {
    public DesiredSnapshot {
        instances = List.copyOf(instances);
    }

    /** What an agent knows before its first desired-state response. */
    public static DesiredSnapshot unconfirmed() {
        return new DesiredSnapshot(-1, false, List.of());
    }

    public static DesiredSnapshot confirmed(long generation, List<DesiredInstance> instances) {
        return new DesiredSnapshot(generation, true, instances);
    }
}
