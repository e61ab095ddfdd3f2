package io.mvm.core.reconcile;

import static io.mvm.core.reconcile.Fixtures.desired;
import static io.mvm.core.reconcile.Fixtures.id;
import static io.mvm.core.reconcile.Fixtures.seen;
import static io.mvm.core.reconcile.Fixtures.want;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.Role;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ReconcilePlannerTest {
    static final Instant NOW = Instant.parse("2026-11-21T12:00:00Z");
    final ReconcilePlanner planner = new ReconcilePlanner(new PlannerSettings(3, Duration.ofSeconds(10)));

    Plan plan(DesiredSnapshot desired, ObservedInstance... observed) {
        return planner.plan(desired, List.of(observed), Map.of(), NOW);
    }

    /** Every (observed, desired) pair for one lone worker: the step it leads to, or none. */
    static Stream<Arguments> transitions() {
        var table = new ArrayList<Arguments>();
        // observed state (null = nothing on this node), desired target (null = not named), expected step
        Object[][] rows = {
                {null, Target.RUNNING, Step.CreateInstance.class},
                {null, Target.WARM, Step.CreateInstance.class},
                {null, Target.SLEEPING, Step.CreateInstance.class},
                {null, Target.STOPPED, null},
                {null, Target.DESTROYED, null},
                {VmState.RUNNING, Target.RUNNING, null},
                {VmState.RUNNING, Target.WARM, Step.PauseInstance.class},
                {VmState.RUNNING, Target.SLEEPING, Step.SleepInstance.class},
                {VmState.RUNNING, Target.STOPPED, Step.StopInstance.class},
                {VmState.RUNNING, Target.DESTROYED, Step.DestroyInstance.class},
                {VmState.RUNNING, null, Step.EvictInstance.class},
                {VmState.WARM, Target.RUNNING, Step.ResumeInstance.class},
                {VmState.WARM, Target.WARM, null},
                {VmState.WARM, Target.SLEEPING, Step.SleepInstance.class},
                {VmState.WARM, Target.STOPPED, Step.StopInstance.class},
                {VmState.WARM, Target.DESTROYED, Step.DestroyInstance.class},
                {VmState.WARM, null, Step.EvictInstance.class},
                {VmState.SLEEPING, Target.RUNNING, Step.WakeInstance.class},
                {VmState.SLEEPING, Target.WARM, Step.WakeInstance.class},
                {VmState.SLEEPING, Target.SLEEPING, null},
                {VmState.SLEEPING, Target.STOPPED, Step.StopInstance.class},
                {VmState.SLEEPING, Target.DESTROYED, Step.DestroyInstance.class},
                {VmState.SLEEPING, null, Step.EvictInstance.class},
                {VmState.STOPPED, Target.RUNNING, Step.StartInstance.class},
                {VmState.STOPPED, Target.WARM, Step.StartInstance.class},
                {VmState.STOPPED, Target.SLEEPING, Step.StartInstance.class},
                {VmState.STOPPED, Target.STOPPED, null},
                {VmState.STOPPED, Target.DESTROYED, Step.DestroyInstance.class},
                {VmState.STOPPED, null, Step.EvictInstance.class},
                {VmState.CRASHED, Target.RUNNING, Step.RestartInstance.class},
                {VmState.CRASHED, Target.WARM, Step.RestartInstance.class},
                {VmState.CRASHED, Target.SLEEPING, Step.RestartInstance.class},
                {VmState.CRASHED, Target.STOPPED, Step.StopInstance.class},
                {VmState.CRASHED, Target.DESTROYED, Step.DestroyInstance.class},
                {VmState.CRASHED, null, Step.EvictInstance.class},
        };
        for (var r : rows) {
            table.add(Arguments.of(r[0], r[1], r[2]));
        }
        return table.stream();
    }

    @ParameterizedTest(name = "observed {0}, desired {1} -> {2}")
    @MethodSource("transitions")
    void everyTransitionOfALoneInstance(VmState observed, Target target, Class<? extends Step> expected) {
        var desired = target == null ? desired() : desired(want("w1", Role.WORKER, target));
        var plan = observed == null ? plan(desired) : plan(desired, seen("w1", Role.WORKER, observed));

        if (expected == null) {
            assertThat(plan.isEmpty()).as("plan %s", plan).isTrue();
        } else {
            assertThat(plan.steps()).singleElement().isInstanceOf(expected);
            assertThat(plan.waits()).isEmpty();
        }
    }

    @ParameterizedTest
    @MethodSource("targets")
    void busyInstancesWaitWhateverIsDesired(Target target) {
        var plan = plan(desired(want("w1", Role.WORKER, target)), seen("w1", Role.WORKER, VmState.BUSY));
        assertThat(plan.steps()).isEmpty();
        assertThat(plan.waitFor(id("w1"))).hasValueSatisfying(w -> assertThat(w.reason()).contains("under way"));
    }

    @ParameterizedTest
    @MethodSource("targets")
    void anInstanceWhoseStateCouldNotBeReadIsNeverActedOn(Target target) {
        // Today a monitor that did not answer read as CRASHED: restarted, i.e. its VMM killed.
        var plan = plan(desired(want("w1", Role.WORKER, target)), seen("w1", Role.WORKER, VmState.UNKNOWN));
        assertThat(plan.steps()).isEmpty();
        assertThat(plan.waitFor(id("w1"))).hasValueSatisfying(w -> assertThat(w.reason()).contains("could not read"));
    }

    @Test
    void anUnnamedInstanceWhoseStateCouldNotBeReadIsNotRemoved() {
        var plan = plan(desired(), seen("w1", Role.WORKER, VmState.UNKNOWN));
        assertThat(plan.steps()).isEmpty();
        assertThat(plan.waitFor(id("w1"))).isPresent();
    }

    static Stream<Target> targets() {
        return Stream.of(Target.values());
    }

    @Test
    void wakeAndStartCarryTheSpecSoSecretsAreRefreshed() {
        var w = want("w1", Role.WORKER, Target.RUNNING);
        var wake = plan(desired(w), seen("w1", Role.WORKER, VmState.SLEEPING));
        var start = plan(desired(w), seen("w1", Role.WORKER, VmState.STOPPED));

        assertThat(wake.steps()).containsExactly(new Step.WakeInstance(w.spec()));
        assertThat(start.steps()).containsExactly(new Step.StartInstance(w.spec()));
        assertThat(w.spec().toString()).doesNotContain("s3cr3t");
    }

    @Test
    void aClaimedWarmVmStandingByIsClaimedNotResumed() {
        var claimed = want("w1", "acme", Role.WORKER, Target.RUNNING);
        var plan = plan(desired(claimed), seen("w1", "mvm-standby", Role.WORKER, VmState.WARM));
        assertThat(plan.steps()).containsExactly(new Step.ClaimInstance(claimed.spec()));
    }

    @Test
    void aClaimedVmThatIsNoLongerWarmIsDestroyedToBeBootedAfresh() {
        for (VmState state : List.of(VmState.RUNNING, VmState.STOPPED, VmState.CRASHED, VmState.SLEEPING)) {
            var plan = plan(desired(want("w1", "acme", Role.WORKER, Target.RUNNING)),
                    seen("w1", "mvm-standby", Role.WORKER, state));
            assertThat(plan.steps()).as("standing by %s", state).singleElement()
                    .isInstanceOf(Step.DestroyInstance.class);
        }
    }

    @Test
    void aWarmVmStillStandingByIsLeftAlone() {
        var plan = plan(desired(want("w1", "mvm-standby", Role.WORKER, Target.WARM)),
                seen("w1", "mvm-standby", Role.WORKER, VmState.WARM));
        assertThat(plan.steps()).isEmpty();
    }

    @Test
    void sleepCarriesTheDrainDeadline() {
        var plan = plan(desired(want("w1", Role.WORKER, Target.SLEEPING)), seen("w1", Role.WORKER, VmState.RUNNING));
        assertThat(plan.steps()).singleElement().isInstanceOfSatisfying(Step.SleepInstance.class,
                s -> assertThat(s.drainDeadline()).isEqualTo(Duration.ofSeconds(10)));
    }

    @Test
    void anInstanceWithAnIdlePolicySleepsWithoutADrain() {
        var idle = new io.mvm.core.scale.Exposure(java.util.List.of(io.mvm.core.scale.PortMapping.tcp(8080, 0)),
                java.util.Optional.of(io.mvm.core.scale.IdlePolicy.DEFAULTS));
        var w = want("w1", Role.WORKER, Target.SLEEPING);
        var plan = plan(desired(new DesiredInstance(w.spec(), Target.SLEEPING, idle)),
                seen("w1", Role.WORKER, VmState.WARM));
        assertThat(plan.steps()).singleElement().isInstanceOfSatisfying(Step.SleepInstance.class,
                s -> assertThat(s.drainDeadline()).isZero());
    }

    @Test
    void unresponsiveGuestIsRestartedWithTheReason() {
        var plan = plan(desired(want("w1", Role.WORKER, Target.RUNNING)),
                seen("w1", Role.WORKER, VmState.RUNNING).withHealth(GuestHealth.UNRESPONSIVE));
        assertThat(plan.steps()).singleElement().isInstanceOfSatisfying(Step.RestartInstance.class, r -> {
            assertThat(r.reason()).isEqualTo("the guest agent stopped answering");
            assertThat(r.attempt()).isEqualTo(1);
        });
    }

    @Test
    void aServiceWhoseWorkloadExitedIsRestartedWithTheReasonAndItsBackoff() {
        var d = desired(want("w1", Role.WORKER, Target.RUNNING));
        var exited = List.of(seen("w1", Role.WORKER, VmState.RUNNING).withHealth(GuestHealth.WORKLOAD_EXITED));
        assertThat(planner.plan(d, exited, Map.of(), NOW).steps()).singleElement()
                .isInstanceOfSatisfying(Step.RestartInstance.class, r -> {
                    assertThat(r.reason()).isEqualTo("the workload exited");
                    assertThat(r.attempt()).isEqualTo(1);
                });
        // A workload that keeps exiting waits out the backoff like any crash loop.
        var history = new RestartHistory(2, NOW.plusSeconds(8), false, "the workload exited");
        assertThat(planner.plan(d, exited, Map.of(id("w1"), history), NOW).steps()).isEmpty();
        // Wanted warm, a pause is all it needs: nothing runs in a paused guest anyway.
        var warm = desired(want("w1", Role.WORKER, Target.WARM));
        assertThat(planner.plan(warm, exited, Map.of(), NOW).steps()).singleElement()
                .isInstanceOf(Step.PauseInstance.class);
    }

    @Test
    void restartWaitsForItsBackoffThenCountsTheAttempt() {
        var d = desired(want("w1", Role.WORKER, Target.RUNNING));
        var crashed = List.of(seen("w1", Role.WORKER, VmState.CRASHED));
        var history = new RestartHistory(2, NOW.plusSeconds(4), false, "the VMM exited unexpectedly");

        var early = planner.plan(d, crashed, Map.of(id("w1"), history), NOW);
        var due = planner.plan(d, crashed, Map.of(id("w1"), history), NOW.plusSeconds(4));

        assertThat(early.steps()).isEmpty();
        assertThat(early.waitFor(id("w1"))).hasValue(new Wait(id("w1"),
                "the VMM exited unexpectedly; restart 3 is backed off", Optional.of(NOW.plusSeconds(4))));
        assertThat(due.steps()).singleElement().isInstanceOfSatisfying(Step.RestartInstance.class,
                r -> assertThat(r.attempt()).isEqualTo(3));
    }

    @Test
    void marksFailedAfterMaxRestartsAndThenLeavesItAlone() {
        var d = desired(want("w1", Role.WORKER, Target.RUNNING));
        var crashed = List.of(seen("w1", Role.WORKER, VmState.CRASHED));

        var exhausted = planner.plan(d, crashed, Map.of(id("w1"), new RestartHistory(3, NOW, false, "x")), NOW);
        var gaveUp = planner.plan(d, crashed, Map.of(id("w1"), new RestartHistory(3, NOW, true, "x")), NOW);

        assertThat(exhausted.steps()).singleElement().isInstanceOfSatisfying(Step.MarkFailed.class,
                m -> assertThat(m.reason()).isEqualTo("the VMM exited unexpectedly; gave up after 3 restarts"));
        assertThat(gaveUp.isEmpty()).isTrue();
    }

    @Test
    void beforeTheCoordinatorConfirmsNothingIsCreatedOrDestroyed() {
        var plan = planner.plan(DesiredSnapshot.unconfirmed(),
                List.of(seen("w1", Role.WORKER, VmState.RUNNING), seen("w2", Role.WORKER, VmState.CRASHED)),
                Map.of(), NOW);
        assertThat(plan.steps()).isEmpty();
        assertThat(plan.waits()).extracting(Wait::instance).containsExactly(id("w1"), id("w2"));
    }

    @Test
    void scaleUpGoesGatewayFirstAndLaterRolesWait() {
        var d = desired(want("g1", Role.GATEWAY, Target.RUNNING), want("b1", Role.BUILDER, Target.RUNNING),
                want("w1", Role.WORKER, Target.RUNNING), want("c1", Role.CAPABILITY_IMESSAGE, Target.RUNNING));

        var first = plan(d);
        assertThat(first.steps()).extracting(Step::instance).containsExactly(id("g1"));
        assertThat(first.waitFor(id("w1"))).hasValueSatisfying(
                w -> assertThat(w.reason()).isEqualTo("waiting for gateway g1 of tenant acme to be running"));

        var second = plan(d, seen("g1", Role.GATEWAY, VmState.RUNNING));
        assertThat(second.steps()).extracting(Step::instance).containsExactly(id("b1"));
        assertThat(second.waitFor(id("c1"))).hasValueSatisfying(
                w -> assertThat(w.reason()).isEqualTo("waiting for builder b1 of tenant acme to be running"));

        var third = plan(d, seen("g1", Role.GATEWAY, VmState.RUNNING), seen("b1", Role.BUILDER, VmState.RUNNING));
        assertThat(third.steps()).extracting(Step::instance).containsExactly(id("w1"));
    }

    @Test
    void anUnresponsiveGatewayHoldsBackWakingWorkers() {
        var d = desired(want("g1", Role.GATEWAY, Target.RUNNING), want("w1", Role.WORKER, Target.RUNNING));
        var plan = plan(d, seen("g1", Role.GATEWAY, VmState.RUNNING).withHealth(GuestHealth.UNRESPONSIVE),
                seen("w1", Role.WORKER, VmState.SLEEPING));
        assertThat(plan.steps()).singleElement().isInstanceOf(Step.RestartInstance.class);
        assertThat(plan.waitFor(id("w1"))).isPresent();
    }

    @Test
    void roleOrderIsPerTenantAndOnlyForGatewaysDesiredRunning() {
        var d = desired(want("g1", "acme", Role.GATEWAY, Target.RUNNING), want("w1", "beta", Role.WORKER, Target.RUNNING),
                want("g2", "gamma", Role.GATEWAY, Target.WARM), want("w2", "gamma", Role.WORKER, Target.RUNNING));
        var plan = plan(d);
        assertThat(plan.steps()).extracting(Step::instance).containsExactly(id("g1"), id("g2"), id("w1"), id("w2"));
    }

    @Test
    void sleepGoesWorkersFirstThenGateways() {
        var d = desired(want("g1", Role.GATEWAY, Target.SLEEPING), want("w1", Role.WORKER, Target.SLEEPING),
                want("c1", Role.CAPABILITY_IMESSAGE, Target.SLEEPING));
        var first = plan(d, seen("g1", Role.GATEWAY, VmState.RUNNING), seen("w1", Role.WORKER, VmState.RUNNING),
                seen("c1", Role.CAPABILITY_IMESSAGE, VmState.RUNNING));
        assertThat(first.steps()).extracting(Step::instance).containsExactly(id("c1"));
        assertThat(first.waitFor(id("g1"))).hasValueSatisfying(w -> assertThat(w.reason())
                .isEqualTo("waiting for capability-imessage c1 of tenant acme to go down first"));

        var second = plan(d, seen("g1", Role.GATEWAY, VmState.RUNNING), seen("w1", Role.WORKER, VmState.RUNNING),
                seen("c1", Role.CAPABILITY_IMESSAGE, VmState.SLEEPING));
        assertThat(second.steps()).extracting(Step::instance).containsExactly(id("w1"));

        var third = plan(d, seen("g1", Role.GATEWAY, VmState.RUNNING), seen("w1", Role.WORKER, VmState.SLEEPING),
                seen("c1", Role.CAPABILITY_IMESSAGE, VmState.SLEEPING));
        assertThat(third.steps()).singleElement().isInstanceOf(Step.SleepInstance.class)
                .extracting(Step::instance).isEqualTo(id("g1"));
    }

    @Test
    void unnamedVmsAreEvictedNotDestroyedInReverseRoleOrder() {
        var plan = plan(desired(), seen("g1", Role.GATEWAY, VmState.RUNNING), seen("w1", Role.WORKER, VmState.WARM));
        assertThat(plan.steps()).singleElement().isInstanceOfSatisfying(Step.EvictInstance.class, s -> {
            assertThat(s.instance()).isEqualTo(id("w1"));
            assertThat(s.reason()).isEqualTo("not in the desired state of generation 7");
        });
    }

    @Test
    void downStepsComeBeforeUpStepsAcrossTenants() {
        var d = desired(want("w1", "acme", Role.WORKER, Target.RUNNING), want("g2", "beta", Role.GATEWAY, Target.STOPPED),
                want("w2", "beta", Role.WORKER, Target.RUNNING));
        var plan = plan(d, seen("g2", "beta", Role.GATEWAY, VmState.RUNNING), seen("x9", "acme", Role.WORKER,
                VmState.RUNNING));
        assertThat(plan.steps()).extracting(s -> s.getClass().getSimpleName() + " " + s.instance())
                .containsExactly("EvictInstance x9", "StopInstance g2", "CreateInstance w1", "CreateInstance w2");
    }

    @Test
    void rejectsDuplicateIds() {
        var w = want("w1", Role.WORKER, Target.RUNNING);
        assertThatThrownBy(() -> plan(desired(w, w))).hasMessageContaining("names instance w1 twice");
        assertThatThrownBy(() -> plan(desired(), seen("w1", Role.WORKER, VmState.RUNNING),
                seen("w1", Role.WORKER, VmState.WARM))).hasMessageContaining("reports instance w1 twice");
    }
}
