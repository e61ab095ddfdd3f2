package io.mvm.agent.coordinator;

import java.util.List;

/**
 * A full report of the node: every instance it has or was told about, so the coordinator can
 * replace its view wholesale (level, not edge). {@code desiredGeneration} is the generation the
 * agent was working towards when it observed.
 */
public record ObservedReport(long desiredGeneration, List<InstanceReport> instances) {
    public ObservedReport {
        instances = List.copyOf(instances);
    }
}
