package io.mvm.core.pool;

import static io.mvm.core.lifecycle.DesiredState.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.pool.DesiredStateAssignment.Plan;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DesiredStateAssignmentTest {
    private static final Instant T0 = Instant.parse("2026-11-21T00:00:00Z");

    private static PoolMember member(String id, DesiredState desired, InstanceState observed, int ageRank) {
        return new PoolMember(InstanceId.of(id), desired, observed, T0.plusSeconds(ageRank));
    }

    private static InstanceId id(String s) {
        return InstanceId.of(s);
    }

    @Test
    void emptyPoolCreatesEverything() {
        Plan plan = DesiredStateAssignment.plan(List.of(), new TargetCounts(2, 1, 1, 0));
        assertThat(plan.create()).containsExactly(RUNNING, RUNNING, WARM, SLEEPING);
        assertThat(plan.changes()).isEmpty();
        assertThat(plan.remove()).isEmpty();
    }

    @Test
    void unchangedCountsChangeNothing() {
        var members = List.of(member("a", RUNNING, InstanceState.RUNNING, 1),
                member("b", WARM, InstanceState.PAUSING, 2), member("c", SLEEPING, InstanceState.PENDING, 3));
        assertThat(DesiredStateAssignment.plan(members, new TargetCounts(1, 1, 1, 0)).isEmpty()).isTrue();
    }

    @Test
    void moreRunningResumesWarmBeforeWakingSleepingBeforeCreating() {
        var members = List.of(member("s", SLEEPING, InstanceState.SLEEPING, 1),
                member("w", WARM, InstanceState.WARM, 2));
        Plan plan = DesiredStateAssignment.plan(members, new TargetCounts(1, 0, 1, 0));
        assertThat(plan.changes()).isEqualTo(Map.of(id("w"), RUNNING));
        assertThat(plan.create()).isEmpty();

        Plan two = DesiredStateAssignment.plan(members, new TargetCounts(2, 0, 0, 0));
        assertThat(two.changes()).isEqualTo(Map.of(id("w"), RUNNING, id("s"), RUNNING));
        Plan three = DesiredStateAssignment.plan(members, new TargetCounts(3, 0, 0, 0));
        assertThat(three.create()).containsExactly(RUNNING);
    }

    @Test
    void warmPrefersRunningOverSleepingAndSleepingPrefersWarm() {
        var members = List.of(member("r", RUNNING, InstanceState.RUNNING, 1),
                member("s", SLEEPING, InstanceState.SLEEPING, 2));
        Plan warm = DesiredStateAssignment.plan(members, new TargetCounts(0, 1, 1, 0));
        assertThat(warm.changes()).isEqualTo(Map.of(id("r"), WARM));

        var warmOnes = List.of(member("w", WARM, InstanceState.WARM, 1), member("r", RUNNING, InstanceState.RUNNING, 2));
        Plan sleep = DesiredStateAssignment.plan(warmOnes, new TargetCounts(1, 0, 1, 0));
        assertThat(sleep.changes()).isEqualTo(Map.of(id("w"), SLEEPING));
    }

    @Test
    void scaleDownRemovesPendingFirstThenStoppedThenSleepingNewestFirst() {
        var members = List.of(
                member("r1", RUNNING, InstanceState.RUNNING, 1),
                member("r2", RUNNING, InstanceState.RUNNING, 2),
                member("p1", RUNNING, InstanceState.PENDING, 3),
                member("p2", RUNNING, InstanceState.PENDING, 4));
        Plan plan = DesiredStateAssignment.plan(members, new TargetCounts(1, 0, 0, 0));
        assertThat(plan.remove()).containsExactly(id("p2"), id("p1"), id("r2"));
        assertThat(plan.changes()).isEmpty();

        var mixed = List.of(member("s", SLEEPING, InstanceState.SLEEPING, 1),
                member("w", WARM, InstanceState.WARM, 2), member("x", STOPPED, InstanceState.STOPPED, 3));
        Plan all = DesiredStateAssignment.plan(mixed, new TargetCounts(0, 0, 0, 0));
        assertThat(all.remove()).containsExactly(id("x"), id("s"), id("w"));
    }

    @Test
    void runningSlotPrefersTheInstanceAnAgentReportsRunning() {
        // Both want warm, only one may stay: the one that is really warm stays warm and the one
        // that is really running (its pause not done yet) is the better candidate for running.
        var members = List.of(member("a", WARM, InstanceState.RUNNING, 1), member("b", WARM, InstanceState.WARM, 2));
        Plan plan = DesiredStateAssignment.plan(members, new TargetCounts(1, 1, 0, 0));
        assertThat(plan.changes()).isEqualTo(Map.of(id("a"), RUNNING));
    }

    @Test
    void stoppedTargetKeepsStoppedInstances() {
        var members = List.of(member("x", STOPPED, InstanceState.STOPPED, 1), member("r", RUNNING, InstanceState.RUNNING, 2));
        Plan plan = DesiredStateAssignment.plan(members, new TargetCounts(2, 0, 0, 1));
        assertThat(plan.changes()).isEmpty();
        assertThat(plan.create()).containsExactly(RUNNING);
        Plan start = DesiredStateAssignment.plan(members, new TargetCounts(2, 0, 0, 0));
        assertThat(start.changes()).isEqualTo(Map.of(id("x"), RUNNING));
    }
}
