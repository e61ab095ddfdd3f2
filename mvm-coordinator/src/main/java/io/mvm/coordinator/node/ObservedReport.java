package io.mvm.coordinator.node;

import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** A node's full report of its instances, validated. */
public record ObservedReport(long desiredGeneration, List<Observed> instances) {
    public ObservedReport {
        instances = List.copyOf(instances);
    }

    public record Observed(InstanceId id, InstanceState state, Optional<Long> pid, Optional<Accelerator> accelerator,
                           Optional<String> lastError, List<Event> events) {
        public Observed {
            events = List.copyOf(events);
        }
    }

    public record Event(Instant time, String type, String message) {}
}
