package io.mvm.store.template;

import io.mvm.model.PoolRef;
import java.time.Instant;
import java.util.Optional;

/**
 * A pool's rollout state: which revision it is pinned to (empty: its template's current one),
 * what it rolls towards and from, how many instances may be unavailable at once, and how far it got.
 */
public record PoolRollout(PoolRef pool, String template, Optional<String> pinnedRevision,
                          Optional<String> targetRevision, Optional<String> previousRevision, int maxUnavailable,
                          String status, Optional<String> reason, int replaced, Optional<Instant> startedAt,
                          Instant updatedAt) {
    public static final String ROLLING = "rolling";
    public static final String HALTED = "halted";
    public static final String DONE = "done";

    public static PoolRollout fresh(PoolRef pool, String template, Instant now) {
        return new PoolRollout(pool, template, Optional.empty(), Optional.empty(), Optional.empty(), 1, DONE,
                Optional.empty(), 0, Optional.empty(), now);
    }
}
