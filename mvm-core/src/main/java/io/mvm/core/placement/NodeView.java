package io.mvm.core.placement;

import io.mvm.model.NodeId;
import java.util.Map;
import java.util.Objects;

/**
 * A node as placement sees it. {@code allocatable} is what may be given to instances (already net
 * of whatever the host keeps for itself); the current allocation is not stored here but derived
 * from the instances placed on the node, so it can never disagree with them.
 */
public record NodeView(NodeId id, Capacity allocatable, NodeStatus status, Map<String, String> labels) {
    public NodeView {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(allocatable, "allocatable");
        Objects.requireNonNull(status, "status");
        labels = Map.copyOf(labels);
    }

    public static NodeView ready(String id, int vcpus, long memoryMib, long diskMib) {
        return new NodeView(NodeId.of(id), new Capacity(vcpus, memoryMib, diskMib), NodeStatus.READY, Map.of());
    }

    public NodeView lost() {
        return new NodeView(id, allocatable, NodeStatus.LOST, labels);
    }

    public NodeView withLabels(Map<String, String> newLabels) {
        return new NodeView(id, allocatable, status, newLabels);
    }
}
