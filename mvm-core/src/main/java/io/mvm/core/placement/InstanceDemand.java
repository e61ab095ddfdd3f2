package io.mvm.core.placement;

import io.mvm.model.InstanceId;
import io.mvm.model.NodeId;
import io.mvm.model.PoolRef;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * An instance that needs a node: what it asks for, which labels a node must carry, and the node
 * it is on now, if any. Pass every live instance of the fleet (placed or not), because the
 * allocation of a node is the sum of the demands currently on it.
 */
public record InstanceDemand(InstanceId id, PoolRef pool, Capacity demand, Map<String, String> requiredLabels,
                             Optional<NodeId> currentNode) {
    public InstanceDemand {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(demand, "demand");
        requiredLabels = Map.copyOf(requiredLabels);
        Objects.requireNonNull(currentNode, "currentNode");
    }

    public static InstanceDemand unplaced(String id, PoolRef pool, Capacity demand) {
        return new InstanceDemand(InstanceId.of(id), pool, demand, Map.of(), Optional.empty());
    }

    public InstanceDemand on(NodeId node) {
        return new InstanceDemand(id, pool, demand, requiredLabels, Optional.of(node));
    }

    public InstanceDemand requiring(Map<String, String> labels) {
        return new InstanceDemand(id, pool, demand, labels, currentNode);
    }
}
