package io.mvm.agent.coordinator;

import io.mvm.core.placement.Capacity;
import io.mvm.model.Accelerator;
import io.mvm.model.NodeId;
import java.util.Map;
import java.util.Objects;

/** What a node tells the coordinator about itself when it (re-)registers. */
public record NodeRegistration(NodeId node, Capacity capacity, Map<String, String> labels, Accelerator accelerator) {
    public NodeRegistration {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(capacity, "capacity");
        Objects.requireNonNull(accelerator, "accelerator");
        labels = Map.copyOf(labels);
    }
}
