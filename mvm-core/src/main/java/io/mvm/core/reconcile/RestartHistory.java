package io.mvm.core.reconcile;

import java.time.Instant;
import java.util.Objects;

/**
 * Restart bookkeeping for one instance, kept by the agent (outside the planner, so the planner
 * stays pure): how many restarts were spent, when the next one is allowed, and whether the agent
 * already gave up and reported the instance failed.
 */
public record RestartHistory(int restarts, Instant notBefore, boolean gaveUp, String lastReason) {
    public static final RestartHistory NONE = new RestartHistory(0, Instant.EPOCH, false, "");

    public RestartHistory {
        Objects.requireNonNull(notBefore, "notBefore");
        Objects.requireNonNull(lastReason, "lastReason");
        if (restarts < 0) {
            throw new IllegalArgumentException("restarts must not be negative");
        }
    }
}
