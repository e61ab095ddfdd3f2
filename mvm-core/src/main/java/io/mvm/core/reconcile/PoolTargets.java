package io.mvm.core.reconcile;

import io.mvm.model.DesiredCounts;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Turns a pool's desired counts into a target per instance, for the coordinator. Converting beats
 * creating: a running slot goes to an instance that is running, else warm, else sleeping, else
 * stopped, and only then to a new instance; surplus instances are destroyed. Pure and stable:
 * an instance keeps its target when the counts allow it.
 */
public final class PoolTargets {

    private PoolTargets() {}

    /** A live instance of the pool: its current target and the state last reported for it. */
    public record Member(InstanceId id, Target target, InstanceState state) {
        public Member {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(target, "target");
            Objects.requireNonNull(state, "state");
        }
    }

    /** New targets for existing members, and how many new instances to create per target. */
    public record Assignment(Map<InstanceId, Target> targets, Map<Target, Integer> toCreate) {
        public Assignment {
            targets = Map.copyOf(targets);
            toCreate = Map.copyOf(toCreate);
        }

        public int toCreate(Target t) {
            return toCreate.getOrDefault(t, 0);
        }
    }

    public static Assignment assign(DesiredCounts counts, List<Member> members) {
        var remaining = new ArrayList<Member>();
        var seen = new java.util.HashSet<InstanceId>();
        for (var m : members) {
            if (!seen.add(m.id())) {
                throw MvmException.invalid("pool member " + m.id() + " is listed twice");
            }
            if (m.target() != Target.DESTROYED && m.state() != InstanceState.DESTROYED) {
                remaining.add(m);
            }
        }
        var targets = new TreeMap<InstanceId, Target>();
        var toCreate = new TreeMap<Target, Integer>();
        fill(Target.RUNNING, counts.running(), remaining, targets, toCreate);
        fill(Target.WARM, counts.warm(), remaining, targets, toCreate);
        fill(Target.SLEEPING, counts.sleeping(), remaining, targets, toCreate);
        remaining.forEach(m -> targets.put(m.id(), Target.DESTROYED));
        return new Assignment(targets, toCreate);
    }

    private static void fill(Target slot, int count, List<Member> remaining, Map<InstanceId, Target> targets,
                             Map<Target, Integer> toCreate) {
        remaining.sort(Comparator.comparingInt((Member m) -> cost(slot, m.state()))
                .thenComparingInt(m -> m.target() == slot ? 0 : 1)
                .thenComparing(Member::id));
        int taken = Math.min(count, remaining.size());
        for (int i = 0; i < taken; i++) {
            targets.put(remaining.get(i).id(), slot);
        }
        remaining.subList(0, taken).clear();
        if (count > taken) {
            toCreate.put(slot, count - taken);
        }
    }

    /** How much work turning an instance in {@code state} into {@code slot} takes; lower is better. */
    private static int cost(Target slot, InstanceState state) {
        int s = switch (state) {
            case RUNNING, WAKING -> 0;
            case WARM, PAUSING -> 1;
            case SLEEPING, SNAPSHOTTING -> 2;
            case STOPPED, STOPPING -> 3;
            // Not booted yet: anything that exists is cheaper to convert.
            case PENDING, CREATING -> 4;
            case FAILED, UNKNOWN, DESTROYED -> 9;
        };
        return switch (slot) {
            case RUNNING -> s;
            case WARM -> s == 1 ? 0 : s == 0 ? 1 : s;
            case SLEEPING -> s == 2 ? 0 : s == 1 ? 1 : s == 0 ? 2 : s;
            case STOPPED, DESTROYED -> s;
        };
    }
}
