package io.mvm.agent.coordinator;

import io.mvm.core.placement.Capacity;
import io.mvm.model.Accelerator;
import io.mvm.model.NodeId;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a node tells the coordinator about itself when it (re-)registers; {@code relay} is where
 * the coordinator reaches the agent for exec and logs (absent for an agent without a relay server).
 */
public record NodeRegistration(NodeId node, Capacity capacity, Map<String, String> labels, Accelerator accelerator,
                               Optional<RelayEndpoint> relay, Optional<String> underlay) {
    public NodeRegistration(NodeId node, Capacity capacity, Map<String, String> labels, Accelerator accelerator,
                            Optional<RelayEndpoint> relay) {
        this(node, capacity, labels, accelerator, relay, Optional.empty());
    }

    public NodeRegistration {
        Objects.requireNonNull(underlay, "underlay");
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(capacity, "capacity");
        Objects.requireNonNull(accelerator, "accelerator");
        Objects.requireNonNull(relay, "relay");
        labels = Map.copyOf(labels);
    }

    public NodeRegistration(NodeId node, Capacity capacity, Map<String, String> labels, Accelerator accelerator) {
        this(node, capacity, labels, accelerator, Optional.empty(), Optional.empty());
    }
}
