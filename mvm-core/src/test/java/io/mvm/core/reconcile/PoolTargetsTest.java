package io.mvm.core.reconcile;

import static io.mvm.core.reconcile.Fixtures.id;
import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.DesiredCounts;
import io.mvm.model.InstanceState;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PoolTargetsTest {

    static PoolTargets.Member member(String id, Target target, InstanceState state) {
        return new PoolTargets.Member(id(id), target, state);
    }

    @Test
    void convertsWarmToRunningBeforeCreating() {
        var a = PoolTargets.assign(new DesiredCounts(2, 0, 0), List.of(
                member("w1", Target.RUNNING, InstanceState.RUNNING),
                member("w2", Target.WARM, InstanceState.WARM)));
        assertThat(a.targets()).isEqualTo(Map.of(id("w1"), Target.RUNNING, id("w2"), Target.RUNNING));
        assertThat(a.toCreate()).isEmpty();
    }

    @Test
    void wakesSleepersBeforeCreatingAndCreatesOnlyTheRest() {
        var a = PoolTargets.assign(new DesiredCounts(3, 0, 0), List.of(
                member("w1", Target.SLEEPING, InstanceState.SLEEPING),
                member("w2", Target.SLEEPING, InstanceState.SLEEPING)));
        assertThat(a.targets()).isEqualTo(Map.of(id("w1"), Target.RUNNING, id("w2"), Target.RUNNING));
        assertThat(a.toCreate(Target.RUNNING)).isEqualTo(1);
    }

    @Test
    void scaleDownToWarmPausesTheRunningOnesAndDestroysSurplus() {
        var a = PoolTargets.assign(new DesiredCounts(0, 2, 0), List.of(
                member("w1", Target.RUNNING, InstanceState.RUNNING),
                member("w2", Target.RUNNING, InstanceState.RUNNING),
                member("w3", Target.RUNNING, InstanceState.CREATING)));
        assertThat(a.targets()).isEqualTo(Map.of(id("w1"), Target.WARM, id("w2"), Target.WARM,
                id("w3"), Target.DESTROYED));
    }

    @Test
    void keepsSettledTargetsWhenCountsDoNotChange() {
        var members = List.of(member("w1", Target.SLEEPING, InstanceState.SLEEPING),
                member("w2", Target.RUNNING, InstanceState.RUNNING),
                member("w3", Target.WARM, InstanceState.WARM));
        var a = PoolTargets.assign(new DesiredCounts(1, 1, 1), members);
        assertThat(a.targets()).isEqualTo(Map.of(id("w1"), Target.SLEEPING, id("w2"), Target.RUNNING,
                id("w3"), Target.WARM));
    }

    @Test
    void ignoresDestroyedMembers() {
        var a = PoolTargets.assign(new DesiredCounts(1, 0, 0),
                List.of(member("w1", Target.DESTROYED, InstanceState.RUNNING)));
        assertThat(a.targets()).isEmpty();
        assertThat(a.toCreate(Target.RUNNING)).isEqualTo(1);
    }
}
