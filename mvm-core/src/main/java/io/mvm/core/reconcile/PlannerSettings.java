package io.mvm.core.reconcile;

import io.mvm.model.MvmException;
import java.time.Duration;

/**
 * @param maxRestarts  restarts of a crashed or unresponsive instance before it is marked failed
 * @param drainDeadline how long a guest may take to drain before it is snapshotted anyway
 */
public record PlannerSettings(int maxRestarts, Duration drainDeadline) {
    public static final PlannerSettings DEFAULTS = new PlannerSettings(5, Duration.ofSeconds(30));

    public PlannerSettings {
        if (maxRestarts < 0) {
            throw MvmException.invalid("maxRestarts must not be negative, got " + maxRestarts);
        }
        if (drainDeadline.isNegative()) {
            throw MvmException.invalid("drain deadline must not be negative, got " + drainDeadline);
        }
    }
}
