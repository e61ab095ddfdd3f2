package io.mvm.coordinator.liveness;

import io.mvm.core.liveness.LivenessPolicy;
import io.mvm.core.liveness.LivenessVerdict;
import io.mvm.core.liveness.NodeLiveness;
import io.mvm.core.liveness.NodePulse;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This coordinator's view of node liveness: since when it has been watching heartbeats, and
 * which nodes it declared lost recently (for the rate limit). The decisions themselves are the
 * pure {@link NodeLiveness}; this only keeps the little state they need between rounds.
 *
 * <p>Observation starts when the coordinator starts, so a heartbeat stored before an outage is
 * never held against a node; a disruption (most of the fleet silent at once) restarts it. The
 * state is deliberately in memory: a restarted coordinator starts watching afresh, which can only
 * delay a lost verdict, never hasten one.
 */
public final class FleetLiveness {
    private static final Logger log = LoggerFactory.getLogger(FleetLiveness.class);
    private final LivenessPolicy policy;
    private final InstantSource clock;
    private Instant observingSince;
    private final Deque<Instant> declaredLost = new ArrayDeque<>();
    private boolean disrupted;

    public FleetLiveness(LivenessPolicy policy, InstantSource clock) {
        this.policy = policy;
        this.clock = clock;
        this.observingSince = clock.instant();
    }

    public LivenessPolicy policy() {
        return policy;
    }

    public synchronized Instant observingSince() {
        return observingSince;
    }

    /** Until when a lost node with this last heartbeat keeps its instances. */
    public Instant holdUntil(Optional<Instant> lastHeartbeat) {
        return NodeLiveness.holdUntil(lastHeartbeat, observingSince(), policy);
    }

    /** Judges one round at the clock's time; a disruption restarts observation from now. */
    public synchronized LivenessVerdict judge(Collection<NodePulse> nodes) {
        Instant now = clock.instant();
        Instant windowStart = now.minus(policy.lostWindow());
        while (!declaredLost.isEmpty() && !declaredLost.peekFirst().isAfter(windowStart)) {
            declaredLost.removeFirst();
        }
        LivenessVerdict verdict = NodeLiveness.judge(nodes, observingSince, List.copyOf(declaredLost), now, policy);
        if (verdict.disrupted() && !disrupted) {
            log.warn("{} of {} nodes are silent at once: assuming this coordinator is cut off, declaring none lost and"
                    + " moving nothing until they answer again", verdict.deferred().size(), nodes.size());
        } else if (!verdict.disrupted() && disrupted) {
            log.info("fleet disruption over: counting silence again from {}", observingSince);
        }
        if (!verdict.deferred().isEmpty() && !verdict.disrupted()) {
            log.warn("nodes {} are silent past the timeout but the limit of {} lost per {}s is reached: they stay ready"
                    + " for now", verdict.deferred(), policy.lostPerWindow(nodes.size()), policy.lostWindow().toSeconds());
        }
        disrupted = verdict.disrupted();
        observingSince = verdict.observingSince();
        return verdict;
    }

    /** Counts {@code count} nodes declared lost now against the rate limit. */
    public synchronized void declared(int count) {
        Instant now = clock.instant();
        for (int i = 0; i < count; i++) {
            declaredLost.addLast(now);
        }
    }

    /** Restarts observation now (a new leader has not been watching; see the fencing work). */
    public synchronized void restartObservation() {
        observingSince = clock.instant();
        declaredLost.clear();
    }
}
