package io.mvm.core.liveness;

import io.mvm.model.MvmException;
import java.time.Duration;
import java.util.Objects;

/**
 * How the coordinator judges that a node is gone, and how fast it may act on it.
 *
 * @param lostAfter        silence after which a node is declared lost
 * @param rescheduleAfter  silence after which a lost node's instances may move elsewhere (the
 *                         grace period: a node that is only cut off for a moment keeps its work)
 * @param maxLostShare     at most this share of all nodes (at least one node) is declared lost
 *                         within one {@code lostWindow}; the rest wait for the next window, as
 *                         Kubernetes' node lifecycle controller rate-limits evictions
 * @param lostWindow       the window the share above is counted over
 * @param disruptionShare  when at least this share of the nodes (and at least two) is silent or
 *                         lost at once, the coordinator assumes it is the one cut off: it
 *                         declares nothing lost, moves nothing, and restarts its own observation
 *                         (Kubernetes' "full disruption" mode)
 */
public record LivenessPolicy(Duration lostAfter, Duration rescheduleAfter, double maxLostShare, Duration lostWindow,
                             double disruptionShare) {
    public LivenessPolicy {
        Objects.requireNonNull(lostAfter, "lostAfter");
        Objects.requireNonNull(rescheduleAfter, "rescheduleAfter");
        Objects.requireNonNull(lostWindow, "lostWindow");
        if (lostAfter.isNegative() || lostAfter.isZero()) {
            throw MvmException.invalid("node timeout must be positive, got " + lostAfter);
        }
        if (rescheduleAfter.compareTo(lostAfter) < 0) {
            throw MvmException.invalid("reschedule delay (" + rescheduleAfter + ") must not be shorter than the node"
                    + " timeout (" + lostAfter + ")");
        }
        if (!(maxLostShare > 0 && maxLostShare <= 1)) {
            throw MvmException.invalid("share of nodes lost per window must be in (0, 1], got " + maxLostShare);
        }
        if (!(disruptionShare > 0 && disruptionShare <= 1)) {
            throw MvmException.invalid("disruption share must be in (0, 1], got " + disruptionShare);
        }
        if (lostWindow.isNegative()) {
            throw MvmException.invalid("lost window must not be negative, got " + lostWindow);
        }
    }

    /**
     * The defaults for a node timeout: moves after twice the timeout, at most a tenth of the
     * fleet (at least one node) declared lost per timeout, disruption from 55% of the nodes.
     */
    public static LivenessPolicy defaults(Duration lostAfter) {
        return new LivenessPolicy(lostAfter, lostAfter.multipliedBy(2), 0.1, lostAfter, 0.55);
    }

    /** How many nodes of a fleet of {@code nodes} may be declared lost per window. */
    public int lostPerWindow(int nodes) {
        return Math.max(1, (int) Math.floor(maxLostShare * nodes));
    }
}
