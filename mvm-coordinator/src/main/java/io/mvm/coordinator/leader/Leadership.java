package io.mvm.coordinator.leader;

import java.util.Optional;
import java.util.function.Supplier;

/**
 * Whether this coordinator runs the singleton loops (scheduler, lost-node housekeeping, warm-pool
 * refill, rollouts, job finishing) now. Work run through {@link #asLeader} is fenced: every
 * transaction it commits checks, in that transaction, that the lease epoch it was started under
 * is still the current one, so a leader that was paused and lost the lease cannot overwrite its
 * successor's decisions.
 */
public interface Leadership {

    /** This coordinator's belief now; the fence, not this, is what keeps a stale leader's writes out. */
    boolean isLeader();

    /** Runs {@code body} fenced by the current epoch; empty (and {@code body} not run) when not leading. */
    <T> Optional<T> asLeader(Supplier<T> body);

    /** {@link #asLeader} for work without a result; returns whether it ran. */
    default boolean runAsLeader(Runnable body) {
        return asLeader(() -> {
            body.run();
            return Boolean.TRUE;
        }).isPresent();
    }
}
