package io.mvm.core.pool;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.pool.DesiredStateAssignment.Plan;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

class DesiredStateAssignmentProperties {

    @Provide
    Arbitrary<List<PoolMember>> members() {
        Arbitrary<DesiredState> desired = Arbitraries.of(DesiredState.RUNNING, DesiredState.WARM,
                DesiredState.SLEEPING, DesiredState.STOPPED);
        Arbitrary<InstanceState> observed = Arbitraries.of(InstanceState.class);
        return Combinators.combine(desired, observed, Arbitraries.integers().between(0, 50))
                .as((d, o, age) -> new Object[] {d, o, age})
                .list().ofMaxSize(25)
                .map(rows -> {
                    List<PoolMember> out = new ArrayList<>();
                    for (int i = 0; i < rows.size(); i++) {
                        Object[] r = rows.get(i);
                        out.add(new PoolMember(InstanceId.of("i" + i), (DesiredState) r[0], (InstanceState) r[1],
                                Instant.EPOCH.plusSeconds((Integer) r[2])));
                    }
                    return out;
                });
    }

    @Provide
    Arbitrary<TargetCounts> targets() {
        Arbitrary<Integer> n = Arbitraries.integers().between(0, 10);
        return Combinators.combine(n, n, n, n).as(TargetCounts::new);
    }

    @Property(tries = 500)
    void countsAreExactAfterThePlan(@ForAll("members") List<PoolMember> members, @ForAll("targets") TargetCounts target) {
        Plan plan = DesiredStateAssignment.plan(members, target);
        Map<DesiredState, Integer> counts = new EnumMap<>(DesiredState.class);
        var removed = new HashSet<>(plan.remove());
        for (PoolMember m : members) {
            if (!removed.contains(m.id())) {
                counts.merge(plan.changes().getOrDefault(m.id(), m.desired()), 1, Integer::sum);
            }
        }
        plan.create().forEach(s -> counts.merge(s, 1, Integer::sum));
        for (DesiredState s : List.of(DesiredState.RUNNING, DesiredState.WARM, DesiredState.SLEEPING, DesiredState.STOPPED)) {
            assertThat(counts.getOrDefault(s, 0)).as(s.toString()).isEqualTo(target.of(s));
        }
        assertThat(plan.remove()).doesNotHaveDuplicates();
        assertThat(plan.remove().stream().filter(plan.changes()::containsKey)).isEmpty();
        // Never both create and remove: a leftover would always be used before creating.
        assertThat(plan.create().isEmpty() || plan.remove().isEmpty()).isTrue();
    }

    @Property(tries = 300)
    void assignmentIsStableWhenCountsDoNotChange(@ForAll("members") List<PoolMember> members) {
        Map<DesiredState, Integer> counts = new EnumMap<>(DesiredState.class);
        members.forEach(m -> counts.merge(m.desired(), 1, Integer::sum));
        TargetCounts same = new TargetCounts(counts.getOrDefault(DesiredState.RUNNING, 0),
                counts.getOrDefault(DesiredState.WARM, 0), counts.getOrDefault(DesiredState.SLEEPING, 0),
                counts.getOrDefault(DesiredState.STOPPED, 0));
        assertThat(DesiredStateAssignment.plan(members, same).isEmpty()).isTrue();
    }

    @Property(tries = 300)
    void applyingAPlanTwiceIsANoOp(@ForAll("members") List<PoolMember> members, @ForAll("targets") TargetCounts target) {
        Plan plan = DesiredStateAssignment.plan(members, target);
        var removed = new HashSet<>(plan.remove());
        List<PoolMember> after = new ArrayList<>();
        for (PoolMember m : members) {
            if (!removed.contains(m.id())) {
                after.add(new PoolMember(m.id(), plan.changes().getOrDefault(m.id(), m.desired()), m.observed(), m.createdAt()));
            }
        }
        for (int i = 0; i < plan.create().size(); i++) {
            after.add(new PoolMember(InstanceId.of("new" + i), plan.create().get(i), InstanceState.PENDING, Instant.MAX));
        }
        assertThat(DesiredStateAssignment.plan(after, target).isEmpty()).isTrue();
    }

    @Property(tries = 300)
    void movesAsFewInstancesAsPossible(@ForAll("members") List<PoolMember> members, @ForAll("targets") TargetCounts target) {
        Plan plan = DesiredStateAssignment.plan(members, target);
        // Lower bound: for each state, the instances wanting it beyond its target must move or go.
        int surplus = 0;
        for (DesiredState s : List.of(DesiredState.RUNNING, DesiredState.WARM, DesiredState.SLEEPING, DesiredState.STOPPED)) {
            long wanting = members.stream().filter(m -> m.desired() == s).count();
            surplus += (int) Math.max(0, wanting - target.of(s));
        }
        assertThat(plan.changes().size() + plan.remove().size()).isEqualTo(surplus);
    }
}
