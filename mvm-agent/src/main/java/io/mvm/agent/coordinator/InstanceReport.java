package io.mvm.agent.coordinator;

import io.mvm.agent.events.InstanceEvent;
import io.mvm.model.Accelerator;
import io.mvm.model.BoundedText;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/** What the node reports about one instance: its state as observed now and events since the last report. */
public record InstanceReport(InstanceId id, InstanceState state, OptionalLong pid, Accelerator accelerator,
                             Optional<String> lastError, List<InstanceEvent> events, List<RouteReport> routes,
                             Optional<String> idled) {
    /** A report with no routes and not idled. */
    public InstanceReport(InstanceId id, InstanceState state, OptionalLong pid, Accelerator accelerator,
                          Optional<String> lastError, List<InstanceEvent> events) {
        this(id, state, pid, accelerator, lastError, events, List.of(), Optional.empty());
    }

    /** One route of the instance as served: {@code hostPort} the bound port, or {@code error}. */
    public record RouteReport(int guestPort, java.util.OptionalInt hostPort, String protocol, Optional<String> error) {}

    public InstanceReport {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(pid, "pid");
        Objects.requireNonNull(accelerator, "accelerator");
        Objects.requireNonNull(lastError, "lastError");
        // It may quote the guest (a failed exec's stderr): bounded before the coordinator stores it.
        lastError = lastError.map(BoundedText::message);
        events = List.copyOf(events);
        routes = List.copyOf(routes);
        Objects.requireNonNull(idled, "idled");
    }
}
