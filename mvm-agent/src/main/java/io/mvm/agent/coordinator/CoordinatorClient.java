package io.mvm.agent.coordinator;

import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.model.NodeId;
import java.time.Duration;

/**
 * The agent's view of the coordinator (docs/agent-protocol.md). Every method throws an
 * {@link io.mvm.model.MvmException}: UNAVAILABLE when the coordinator cannot be reached or answers
 * 5xx (retry later), UNAUTHENTICATED for a rejected token, NOT_FOUND when it does not know this node
 * (register again).
 */
public interface CoordinatorClient {

    Registration register(NodeRegistration registration);

    void heartbeat(NodeId node, int instanceCount);

    /**
     * The node's desired state. With {@code afterGeneration} empty, answers at once; otherwise the
     * coordinator holds the request until its generation for the node exceeds the given one or
     * {@code wait} has passed, and then answers with its current state either way. The returned
     * snapshot is authoritative.
     */
    DesiredSnapshot desired(NodeId node, java.util.OptionalLong afterGeneration, Duration wait);

    void reportObserved(NodeId node, ObservedReport report);
}
