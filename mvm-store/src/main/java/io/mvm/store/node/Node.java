package io.mvm.store.node;

import io.mvm.model.Accelerator;
import io.mvm.model.NodeId;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/** A host as the coordinator knows it; rows are written by agents (reconcile work). */
public record Node(NodeId id, int vcpus, long memoryMib, long diskMib, Map<String, String> labels,
                   Accelerator accelerator, String status, Optional<Instant> lastHeartbeat, long version,
                   Instant createdAt) {
    public Node {
        labels = Map.copyOf(labels);
    }
}
