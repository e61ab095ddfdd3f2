package io.mvm.core.liveness;

import io.mvm.model.NodeId;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/** What liveness needs to know of a node: whether it is ready and when it last heartbeated. */
public record NodePulse(NodeId id, boolean ready, Optional<Instant> lastHeartbeat) {
    public NodePulse {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(lastHeartbeat, "lastHeartbeat");
    }
}
