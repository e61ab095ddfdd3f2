package io.mvm.store.node;

import io.mvm.model.Accelerator;
import io.mvm.model.NodeId;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * A host as the coordinator knows it, written by its agent's registration and heartbeats.
 * {@code generation} numbers the node's desired list (it only grows); {@code desiredHash}
 * fingerprints the list it numbers. {@code agentToken} is the bearer token the agent's relay
 * server expects: kept as-is because the coordinator must present it, and hidden from
 * {@link #toString()} so it never reaches a log line.
 */
public record Node(NodeId id, int vcpus, long memoryMib, long diskMib, Map<String, String> labels,
                   Accelerator accelerator, String status, Optional<Instant> lastHeartbeat, long version,
                   Instant createdAt, Optional<String> agentUrl, Optional<String> agentToken, long generation,
                   String desiredHash, long observedGeneration) {
    public static final String READY = "ready";
    public static final String LOST = "lost";

    public Node {
        labels = Map.copyOf(labels);
    }

    public boolean ready() {
        return READY.equals(status);
    }

    @Override
    public String toString() {
        return "Node[id=" + id + ", status=" + status + ", vcpus=" + vcpus + ", memoryMib=" + memoryMib
                + ", generation=" + generation + ", agentUrl=" + agentUrl.orElse("-") + "]";
    }
}
