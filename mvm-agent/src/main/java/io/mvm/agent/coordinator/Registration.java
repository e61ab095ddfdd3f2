package io.mvm.agent.coordinator;

import io.mvm.model.NodeId;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The coordinator's answer to a registration: the node id it knows us by, a node token to use from
 * now on (absent: keep the one we have), and how often it wants heartbeats.
 */
public record Registration(NodeId node, Optional<String> token, Duration heartbeatInterval) {
    public Registration {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(token, "token");
        Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
    }

    @Override
    public String toString() {
        return "Registration[node=" + node + ", token=" + (token.isPresent() ? "<set>" : "<unchanged>")
                + ", heartbeatInterval=" + heartbeatInterval + "]";
    }
}
