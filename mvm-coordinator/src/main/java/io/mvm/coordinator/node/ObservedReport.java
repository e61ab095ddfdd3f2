package io.mvm.coordinator.node;

import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.store.node.NodeOrphan;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A node's full report of its instances, validated. {@code orphans} is empty when the agent did
 * not say (older agents, or it could not list them this time): absence never means "none".
 */
public record ObservedReport(long desiredGeneration, List<Observed> instances, Optional<List<NodeOrphan>> orphans) {
    public ObservedReport {
        instances = List.copyOf(instances);
        orphans = orphans.map(List::copyOf);
    }

    /**
     * {@code booted}: the template and revision the VM was created from, when the node says;
     * {@code routes}: the routes the node serves for it (scale to zero), empty when it has none.
     */
    public record Observed(InstanceId id, InstanceState state, Optional<Long> pid, Optional<Accelerator> accelerator,
                           Optional<String> lastError, List<Event> events, Optional<Booted> booted,
                           List<io.mvm.store.route.RouteStore.Reported> routes) {
        public Observed {
            events = List.copyOf(events);
            booted = booted == null ? Optional.empty() : booted;
            routes = routes == null ? List.of() : List.copyOf(routes);
        }

        public Observed(InstanceId id, InstanceState state, Optional<Long> pid, Optional<Accelerator> accelerator,
                        Optional<String> lastError, List<Event> events) {
            this(id, state, pid, accelerator, lastError, events, Optional.empty(), List.of());
        }
    }

    public record Booted(String template, String revision) {}

    public record Event(Instant time, String type, String message) {}
}
