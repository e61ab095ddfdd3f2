package io.mvm.store.instance;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.NodeId;
import io.mvm.model.PoolRef;
import java.time.Instant;
import java.util.Optional;

/**
 * An instance as stored: intent ({@code desired}, set by the coordinator) beside observation
 * ({@code state}, {@code pid}, {@code accelerator}, {@code lastError}, reported by the node that
 * runs it). The IP is allocated at creation and kept for the instance's life. {@code version}
 * counts intent changes only (observations do not move it, so an agent's reports never make a
 * user's If-Match stale). {@code pendingReason} is why placement found no node, when it did not.
 */
public record Instance(InstanceId id, PoolRef pool, DesiredState desired, InstanceState state, Optional<NodeId> node,
                       String ip, long revision, Optional<String> lastError, long version, Instant createdAt,
                       Instant updatedAt, Optional<Long> pid, Optional<String> accelerator,
                       Optional<String> pendingReason) {

    public static Instance created(InstanceId id, PoolRef pool, DesiredState desired, String ip, long revision,
                                   Instant now) {
        return new Instance(id, pool, desired, InstanceState.PENDING, Optional.empty(), ip, revision, Optional.empty(),
                1, now, now, Optional.empty(), Optional.empty(), Optional.empty());
    }

    public Instance withDesired(DesiredState next, Instant now) {
        return new Instance(id, pool, next, state, node, ip, revision, lastError, version + 1, createdAt, now, pid,
                accelerator, pendingReason);
    }

    /** Never placed on a node: nothing runs anywhere, so the record can simply go. */
    public boolean neverPlaced() {
        return node.isEmpty();
    }
}
