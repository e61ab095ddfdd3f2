package io.mvm.core.reconcile;

import io.mvm.model.InstanceId;
import java.util.List;
import java.util.Optional;

/** The planner's answer: ordered steps to apply, and instances that must wait and why. */
public record Plan(List<Step> steps, List<Wait> waits) {
    public Plan {
        steps = List.copyOf(steps);
        waits = List.copyOf(waits);
    }

    public boolean isEmpty() {
        return steps.isEmpty() && waits.isEmpty();
    }

    public List<Step> stepsFor(InstanceId id) {
        return steps.stream().filter(s -> s.instance().equals(id)).toList();
    }

    public Optional<Wait> waitFor(InstanceId id) {
        return waits.stream().filter(w -> w.instance().equals(id)).findFirst();
    }
}
