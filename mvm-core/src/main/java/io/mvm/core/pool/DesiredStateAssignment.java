package io.mvm.core.pool;

import static io.mvm.core.pool.PoolMember.Standing.*;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.pool.PoolMember.Standing;
import io.mvm.model.InstanceId;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decides which instance of a pool should want which state so that the pool matches its target
 * counts, moving as few instances as possible and preferring cheap conversions (a warm instance
 * is resumed, then a sleeping one woken, before a new one is created).
 *
 * <p>Two passes. First every instance that already wants a state keeps it while that state has
 * room, which makes the result stable: unchanged counts change nothing. Then the open slots are
 * filled from the leftovers by a per-state preference on how close each one is to the slot. What
 * is still left is removed (never-started first, running last, newest first); what is still open
 * is created.
 */
public final class DesiredStateAssignment {
    private static final DesiredState[] FILL_ORDER = {
        DesiredState.RUNNING, DesiredState.WARM, DesiredState.SLEEPING, DesiredState.STOPPED};

    private static final Map<DesiredState, List<Standing>> PREFERENCE = Map.of(
            DesiredState.RUNNING, List.of(RUNNING, WARM, SLEEPING, STOPPED, PENDING),
            DesiredState.WARM, List.of(WARM, RUNNING, SLEEPING, STOPPED, PENDING),
            DesiredState.SLEEPING, List.of(SLEEPING, WARM, RUNNING, STOPPED, PENDING),
            DesiredState.STOPPED, List.of(STOPPED, PENDING, SLEEPING, WARM, RUNNING));

    private static final List<Standing> REMOVAL_ORDER = List.of(PENDING, STOPPED, SLEEPING, WARM, RUNNING);

    private DesiredStateAssignment() {}

    /**
     * @param members  the pool's live instances (destroyed ones excluded)
     * @param target   the counts to reach
     * @return which members change desired state, which are removed, and what to create
     */
    public static Plan plan(List<PoolMember> members, TargetCounts target) {
        Map<InstanceId, DesiredState> assigned = new LinkedHashMap<>();
        List<PoolMember> leftovers = new ArrayList<>();
        Map<DesiredState, Integer> open = new LinkedHashMap<>();
        for (DesiredState state : FILL_ORDER) {
            List<PoolMember> wanting = members.stream()
                    .filter(m -> m.desired() == state)
                    .sorted(preferenceFor(state))
                    .toList();
            int keep = Math.min(wanting.size(), target.of(state));
            wanting.subList(0, keep).forEach(m -> assigned.put(m.id(), state));
            leftovers.addAll(wanting.subList(keep, wanting.size()));
            open.put(state, target.of(state) - keep);
        }
        members.stream().filter(m -> !isFillable(m.desired())).forEach(leftovers::add);

        Map<InstanceId, DesiredState> changes = new LinkedHashMap<>();
        for (DesiredState state : FILL_ORDER) {
            leftovers.sort(preferenceFor(state));
            while (open.get(state) > 0 && !leftovers.isEmpty()) {
                PoolMember taken = leftovers.removeFirst();
                changes.put(taken.id(), state);
                open.merge(state, -1, Integer::sum);
            }
        }

        leftovers.sort(Comparator.comparingInt((PoolMember m) -> REMOVAL_ORDER.indexOf(m.standing()))
                .thenComparing(PoolMember::createdAt, Comparator.reverseOrder())
                .thenComparing(PoolMember::id, Comparator.reverseOrder()));
        List<InstanceId> remove = leftovers.stream().map(PoolMember::id).toList();

        List<DesiredState> create = new ArrayList<>();
        for (DesiredState state : FILL_ORDER) {
            for (int i = 0; i < open.get(state); i++) {
                create.add(state);
            }
        }
        return new Plan(changes, remove, create);
    }

    private static boolean isFillable(DesiredState state) {
        return state != DesiredState.DESTROYED;
    }

    private static Comparator<PoolMember> preferenceFor(DesiredState state) {
        List<Standing> order = PREFERENCE.get(state);
        return Comparator.comparingInt((PoolMember m) -> order.indexOf(m.standing()))
                .thenComparing(PoolMember::createdAt)
                .thenComparing(PoolMember::id);
    }

    /**
     * @param changes members whose desired state changes, with the new one
     * @param remove  members no longer needed, in the order to remove them
     * @param create  desired states of the instances to create
     */
    public record Plan(Map<InstanceId, DesiredState> changes, List<InstanceId> remove, List<DesiredState> create) {
        public Plan {
            changes = Map.copyOf(changes);
            remove = List.copyOf(remove);
            create = List.copyOf(create);
        }

        public boolean isEmpty() {
            return changes.isEmpty() && remove.isEmpty() && create.isEmpty();
        }
    }
}
