package io.mvm.agent.coordinator;

import io.mvm.agent.runtime.Orphan;
import java.util.List;
import java.util.Optional;

/**
 * A full report of the node: every instance it has or was told about, so the coordinator can
 * replace its view wholesale (level, not edge). {@code desiredGeneration} is the generation the
 * agent was working towards when it observed.
 *
 * @param orphans every set-aside data directory still on the node (node level, not per instance:
 *                the instance may now belong to another node); empty when it could not be listed
 *                this time, which the wire leaves out rather than claim there are none
 */
public record ObservedReport(long desiredGeneration, List<InstanceReport> instances, Optional<List<Orphan>> orphans) {
    public ObservedReport {
        instances = List.copyOf(instances);
        orphans = orphans.map(List::copyOf);
    }

    public ObservedReport(long desiredGeneration, List<InstanceReport> instances) {
        this(desiredGeneration, instances, Optional.empty());
    }
}
