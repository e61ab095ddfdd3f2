package io.mvm.core.liveness;

import io.mvm.model.NodeId;
import java.time.Instant;
import java.util.List;

/**
 * One housekeeping round's judgement.
 *
 * @param markLost       ready nodes to declare lost now, longest silent first
 * @param deferred       silent ready nodes left ready this round because the rate limit is used up
 * @param disrupted      too many nodes are silent at once for the coordinator to trust its own view
 * @param observingSince from when silence is counted from now on: unchanged, or the round's time
 *                       when disrupted
 */
public record LivenessVerdict(List<NodeId> markLost, List<NodeId> deferred, boolean disrupted, Instant observingSince) {
    public LivenessVerdict {
        markLost = List.copyOf(markLost);
        deferred = List.copyOf(deferred);
    }
}
