package io.mvm.agent;

import io.mvm.agent.queue.ExponentialBackoff;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.PlannerSettings;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Everything the agent is tuned by, checked once at construction (fail fast, nothing read later
 * from the environment).
 *
 * @param longPollWait     how long one desired-state request may be held by the coordinator
 * @param reportInterval   the longest gap between two observed-state reports
 * @param resyncInterval   how often every known instance is re-enqueued, to catch missed events
 * @param waitRecheck      how soon an instance held back by another one is looked at again
 * @param healthInterval   time between health rounds; {@code probeTimeout} per guest probe;
 *                         {@code unresponsiveAfter} consecutive failed probes make a guest unresponsive
 * @param restartBackoff   delay before restart n+1 after restart n; {@code stablePeriod} of good
 *                         health after that clears the record
 * @param passBackoff      retry delays of a failed reconcile pass
 * @param coordinatorBackoff retry delays while the coordinator is unreachable
 */
public record AgentSettings(NodeId node, Capacity capacity, Map<String, String> labels, int workers,
                            Duration longPollWait, Duration heartbeatInterval, Duration reportInterval,
                            Duration resyncInterval, Duration waitRecheck, Duration healthInterval,
                            Duration probeTimeout, int unresponsiveAfter, ExponentialBackoff restartBackoff,
                            Duration stablePeriod, ExponentialBackoff passBackoff,
                            ExponentialBackoff coordinatorBackoff, PlannerSettings planner) {
    public AgentSettings {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(capacity, "capacity");
        labels = Map.copyOf(labels);
        if (workers < 1 || workers > 64) {
            throw MvmException.invalid("agent workers must be 1-64, got " + workers);
        }
        if (unresponsiveAfter < 1) {
            throw MvmException.invalid("unresponsiveAfter must be at least 1, got " + unresponsiveAfter);
        }
        for (var d : new Duration[] {longPollWait, heartbeatInterval, reportInterval, resyncInterval, waitRecheck,
                healthInterval, probeTimeout, stablePeriod}) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw MvmException.invalid("agent intervals must be positive, got " + d);
            }
        }
        Objects.requireNonNull(restartBackoff, "restartBackoff");
        Objects.requireNonNull(passBackoff, "passBackoff");
        Objects.requireNonNull(coordinatorBackoff, "coordinatorBackoff");
        Objects.requireNonNull(planner, "planner");
    }

    /**
     * The longest heartbeat gap the agent allows itself whatever --interval-secs says: well under
     * the coordinator's default 30 s node timeout, so a long report interval cannot get the node
     * declared lost. (The coordinator's own heartbeat_interval_secs, when shorter, wins at runtime.)
     */
    public static final Duration MAX_HEARTBEAT_INTERVAL = Duration.ofSeconds(10);

    /** Production defaults for a node; {@code interval} is the agent's --interval-secs. */
    public static AgentSettings defaults(NodeId node, Capacity capacity, Map<String, String> labels, Duration interval) {
        var heartbeat = interval.compareTo(MAX_HEARTBEAT_INTERVAL) > 0 ? MAX_HEARTBEAT_INTERVAL : interval;
        return new AgentSettings(node, capacity, labels, 4, Duration.ofSeconds(30), heartbeat, interval,
                Duration.ofMinutes(5), Duration.ofSeconds(2), interval, Duration.ofSeconds(5), 3,
                new ExponentialBackoff(Duration.ofSeconds(2), Duration.ofMinutes(5)), Duration.ofMinutes(10),
                new ExponentialBackoff(Duration.ofSeconds(1), Duration.ofMinutes(2)),
                new ExponentialBackoff(Duration.ofMillis(500), Duration.ofSeconds(30)), PlannerSettings.DEFAULTS);
    }
}
