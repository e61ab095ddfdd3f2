package io.mvm.core.reconcile;

import io.mvm.model.InstanceId;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * Why the planner did nothing yet for an instance that is not where it should be. {@code until}
 * is set when the wait ends at a known time (restart backoff); otherwise the instance is looked
 * at again when something else changes.
 */
public record Wait(InstanceId instance, String reason, Optional<Instant> until) {
    public Wait {
        Objects.requireNonNull(instance, "instance");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(until, "until");
    }
}
