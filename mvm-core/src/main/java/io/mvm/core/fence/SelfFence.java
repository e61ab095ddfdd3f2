package io.mvm.core.fence;

import io.mvm.model.MvmException;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Agent-side self-fencing: what an agent that has reached no coordinator for a while does on its
 * own, so that when the coordinator moves its instances elsewhere the partitioned copies are no
 * longer serving. The coordinator declares a silent node lost after its node timeout (30 s by
 * default) and moves the node's instances after twice that (60 s); an agent with the defaults
 * here starts nothing new after 30 s of silence and pauses its VMs after 45 s, 15 s before any
 * replacement may be placed. Paused, not destroyed: a node that was only cut off resumes them
 * when a coordinator answers again and still wants them.
 *
 * @param stopNewWorkAfter silence after which the agent starts no VM it does not already run and
 *                         takes no claim (its "lease": keep it at most the coordinator's node timeout)
 * @param pauseAfter       further silence after which it pauses its running VMs
 */
public record SelfFence(Duration stopNewWorkAfter, Duration pauseAfter) {
    public static final SelfFence DEFAULT = new SelfFence(Duration.ofSeconds(30), Duration.ofSeconds(15));

    public SelfFence {
        Objects.requireNonNull(stopNewWorkAfter, "stopNewWorkAfter");
        Objects.requireNonNull(pauseAfter, "pauseAfter");
        if (stopNewWorkAfter.isNegative() || stopNewWorkAfter.isZero()) {
            throw MvmException.invalid("self-fencing delay must be positive, got " + stopNewWorkAfter);
        }
        if (pauseAfter.isNegative()) {
            throw MvmException.invalid("pause delay must not be negative, got " + pauseAfter);
        }
    }

    /** Where an agent stands, by how long it has heard from no coordinator. */
    public enum Stage {
        /** A coordinator answered recently: work as usual. */
        CONNECTED,
        /** Silent past the lease: keep what runs, start nothing new. */
        NO_NEW_WORK,
        /** Silent past the lease and the pause delay: running VMs are paused. */
        PAUSED
    }

    /** The stage at {@code now} when a coordinator last answered at {@code lastContact}. */
    public Stage judge(Instant lastContact, Instant now) {
        Duration silent = Duration.between(lastContact, now);
        if (silent.compareTo(stopNewWorkAfter) < 0) {
            return Stage.CONNECTED;
        }
        return silent.compareTo(stopNewWorkAfter.plus(pauseAfter)) < 0 ? Stage.NO_NEW_WORK : Stage.PAUSED;
    }

    /**
     * Whether this fencing finishes before a coordinator with {@code nodeTimeout} (and the default
     * grace of twice that before instances move) may place replacements.
     */
    public boolean pausesBeforeReplacement(Duration nodeTimeout) {
        return stopNewWorkAfter.plus(pauseAfter).compareTo(nodeTimeout.multipliedBy(2)) < 0;
    }
}
