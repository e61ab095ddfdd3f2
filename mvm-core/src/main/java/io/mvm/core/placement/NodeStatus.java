package io.mvm.core.placement;

/** Whether a node may receive instances. A lost node's instances are placed elsewhere. */
public enum NodeStatus {
    READY,
    LOST
}
