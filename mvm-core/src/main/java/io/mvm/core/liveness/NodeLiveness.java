package io.mvm.core.liveness;

import io.mvm.model.NodeId;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Decides which nodes are lost, as a pure function of heartbeats, the coordinator's own
 * observation start and the clock.
 *
 * <p>Silence is counted from a node's <em>last sign of life</em>: the later of its last heartbeat
 * and {@code observingSince}, the moment this coordinator began watching (its start, the start of
 * its leadership, or the end of a disruption). A heartbeat stored before a coordinator outage
 * says nothing about the node during the outage: nobody was listening. Without this, the first
 * round after a long outage would declare every live node lost with its grace period long spent.
 */
public final class NodeLiveness {
    private NodeLiveness() {}

    /** The later of the node's last heartbeat and the start of observation. */
    public static Instant lastSign(Optional<Instant> lastHeartbeat, Instant observingSince) {
        return lastHeartbeat.filter(hb -> hb.isAfter(observingSince)).orElse(observingSince);
    }

    /** Until when a lost node keeps its instances before they may move (the grace period). */
    public static Instant holdUntil(Optional<Instant> lastHeartbeat, Instant observingSince, LivenessPolicy policy) {
        return lastSign(lastHeartbeat, observingSince).plus(policy.rescheduleAfter());
    }

    /**
     * Judges one round.
     *
     * @param nodes          every registered node
     * @param observingSince when the coordinator began watching
     * @param recentlyLost   when nodes were declared lost before (any times; only those inside the
     *                       window count against the rate limit)
     */
    public static LivenessVerdict judge(Collection<NodePulse> nodes, Instant observingSince,
                                        Collection<Instant> recentlyLost, Instant now, LivenessPolicy policy) {
        Instant cutoff = now.minus(policy.lostAfter());
        List<NodePulse> silent = new ArrayList<>();
        int lost = 0;
        for (NodePulse n : nodes) {
            if (!n.ready()) {
                lost++;
            } else if (lastSign(n.lastHeartbeat(), observingSince).isBefore(cutoff)) {
                silent.add(n);
            }
        }
        int unhealthy = lost + silent.size();
        if (!silent.isEmpty() && unhealthy >= 2 && unhealthy >= policy.disruptionShare() * nodes.size()) {
            // The coordinator cannot tell a fleet-wide outage from being cut off itself; the safe
            // reading is the latter. Watching starts again from now.
            return new LivenessVerdict(List.of(), ids(silent), true, now);
        }
        silent.sort(Comparator.comparing((NodePulse n) -> lastSign(n.lastHeartbeat(), observingSince))
                .thenComparing(NodePulse::id));
        Instant windowStart = now.minus(policy.lostWindow());
        long used = recentlyLost.stream().filter(t -> t.isAfter(windowStart)).count();
        int allowed = (int) Math.max(0, policy.lostPerWindow(nodes.size()) - used);
        List<NodePulse> first = silent.subList(0, Math.min(allowed, silent.size()));
        List<NodePulse> later = silent.subList(first.size(), silent.size());
        return new LivenessVerdict(ids(first), ids(later), false, observingSince);
    }

    private static List<NodeId> ids(List<NodePulse> pulses) {
        return pulses.stream().map(NodePulse::id).toList();
    }
}
