package io.mvm.core.rollout;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One step of a pool's rolling replacement onto a target template revision, decided from what
 * the pool's instances are pinned to and how they are observed. Pure: the coordinator persists
 * and carries out the decision.
 *
 * <p>Rules: an instance pinned to another revision is <em>old</em> and is replaced (a new instance
 * on the target, the old one destroyed). A replacement is <em>pending</em> until its node reports
 * it in the state its intent asks for (running, warm, ...; for a running instance that is the
 * agent's health-checked running state). At most {@code maxUnavailable} replacements are pending
 * at once, so with 1 each must pass before the next starts. A pending replacement that its node
 * reports failed, or that is not healthy within {@code healthTimeout}, halts the rollout with the
 * reason; a halted rollout replaces nothing more until its target changes (a rollback, or another
 * revision). Instances not yet pinned (never placed) are pinned to the target when placed, so
 * they are not old.
 */
public final class RolloutPlanner {
    private RolloutPlanner() {}

    /** One live instance of the pool. {@code revision}: what it is pinned to (empty: not yet placed). */
    public record Member(InstanceId id, Optional<String> revision, DesiredState desired, InstanceState state,
                         Instant createdAt) {
        public Member {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(revision, "revision");
        }

        boolean healthy() {
            return state == desired.observedEquivalent();
        }
    }

    public sealed interface Decision {
        /** Every instance is on the target and healthy. */
        record Done(int onTarget) implements Decision {}

        /** Replace these old instances now ({@code replace} may be empty while {@code pending} settle). */
        record Replace(List<InstanceId> replace, List<InstanceId> pending, int old) implements Decision {
            public Replace {
                replace = List.copyOf(replace);
                pending = List.copyOf(pending);
            }
        }

        /** Stop: a replacement failed its health check; {@code reason} says which and why. */
        record Halt(String reason, InstanceId failed) implements Decision {}
    }

    public static Decision decide(String target, List<Member> members, int maxUnavailable, Instant now,
                                  Duration healthTimeout) {
        if (maxUnavailable < 1) {
            throw new IllegalArgumentException("max_unavailable must be at least 1, got " + maxUnavailable);
        }
        List<Member> live = members.stream().filter(m -> m.desired() != DesiredState.DESTROYED).toList();
        List<Member> onTarget = live.stream().filter(m -> m.revision().map(target::equals).orElse(true)).toList();
        List<Member> old = live.stream().filter(m -> m.revision().isPresent() && !m.revision().get().equals(target))
                .sorted(Comparator.comparing(Member::createdAt).thenComparing(m -> m.id().value())).toList();
        List<Member> pending = onTarget.stream().filter(m -> !m.healthy()).toList();
        for (Member p : pending) {
            if (p.state() == InstanceState.FAILED) {
                return new Decision.Halt("replacement " + p.id() + " on revision " + shortHash(target)
                        + " failed (its node reports it failed); rollout halted, 'mvm pool rollback' returns to the"
                        + " previous revision", p.id());
            }
            if (!p.createdAt().plus(healthTimeout).isAfter(now)) {
                return new Decision.Halt("replacement " + p.id() + " on revision " + shortHash(target)
                        + " is not healthy after " + healthTimeout.toSeconds() + " s (observed " + p.state().wireName()
                        + ", wanted " + p.desired().wireName() + "); rollout halted, 'mvm pool rollback' returns to the"
                        + " previous revision", p.id());
            }
        }
        if (old.isEmpty() && pending.isEmpty()) {
            return new Decision.Done(onTarget.size());
        }
        int slots = Math.max(0, maxUnavailable - pending.size());
        return new Decision.Replace(old.stream().limit(slots).map(Member::id).toList(),
                pending.stream().map(Member::id).toList(), old.size());
    }

    static String shortHash(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) : hash;
    }
}
