package io.mvm.core.placement;

import io.mvm.model.InstanceId;
import io.mvm.model.NodeId;

/** What placement decided for one instance. */
public sealed interface PlacementDecision {
    InstanceId instance();

    /** The instance runs (or stays) on {@code node}; {@code moved} is true when that is a change. */
    record Assigned(InstanceId instance, NodeId node, boolean moved) implements PlacementDecision {}

    /** No node can take the instance now; {@code reason} says why for every node, in words. */
    record Unplaceable(InstanceId instance, String reason) implements PlacementDecision {}
}
