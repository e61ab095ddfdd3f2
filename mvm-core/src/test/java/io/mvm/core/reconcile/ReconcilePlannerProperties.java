package io.mvm.core.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Drives the planner against a model of the runtime in which every step succeeds, round after
 * round, and checks convergence, idempotence and the ordering rules on the whole history.
 */
class ReconcilePlannerProperties {
    static final Instant NOW = Instant.parse("2026-11-21T12:00:00Z");
    static final int MAX_ROUNDS = 12;
    final ReconcilePlanner planner = new ReconcilePlanner(new PlannerSettings(2, Duration.ofSeconds(5)));

    /** One instance slot: tenant, role, desired target (null = not named), observed state (null = absent). */
    record Slot(String tenant, Role role, Target target, VmState observed) {}

    @Provide
    Arbitrary<List<Slot>> nodes() {
        var target = Arbitraries.of(Target.values()).injectNull(0.15);
        var observed = Arbitraries.of(VmState.RUNNING, VmState.WARM, VmState.SLEEPING, VmState.STOPPED,
                VmState.CRASHED).injectNull(0.3);
        return Combinators.combine(Arbitraries.of("acme", "beta"), Arbitraries.of(Role.values()), target, observed)
                .as(Slot::new)
                .filter(s -> s.target() != null || s.observed() != null)
                .list().ofMaxSize(12);
    }

    record Run(List<Plan> plans, Map<InstanceId, ObservedInstance> finalState, Map<InstanceId, RestartHistory> restarts,
               DesiredSnapshot desired) {}

    Run converge(List<Slot> slots) {
        var desired = new ArrayList<DesiredInstance>();
        var observed = new TreeMap<InstanceId, ObservedInstance>();
        for (int i = 0; i < slots.size(); i++) {
            var s = slots.get(i);
            var id = "i-" + i;
            if (s.target() != null) {
                desired.add(Fixtures.want(id, s.tenant(), s.role(), s.target()));
            }
            if (s.observed() != null) {
                observed.put(InstanceId.of(id), Fixtures.seen(id, s.tenant(), s.role(), s.observed()));
            }
        }
        var snapshot = DesiredSnapshot.confirmed(1, desired);
        var restarts = new HashMap<InstanceId, RestartHistory>();
        var plans = new ArrayList<Plan>();
        for (int round = 0; round < MAX_ROUNDS; round++) {
            var plan = planner.plan(snapshot, List.copyOf(observed.values()), restarts, NOW);
            plans.add(plan);
            if (plan.steps().isEmpty()) {
                break;
            }
            for (var step : plan.steps()) {
                apply(step, observed, restarts);
            }
        }
        return new Run(plans, observed, restarts, snapshot);
    }

    static void apply(Step step, Map<InstanceId, ObservedInstance> observed, Map<InstanceId, RestartHistory> restarts) {
        var id = step.instance();
        var now = observed.get(id);
        var base = now != null ? now
                : new ObservedInstance(id, step.tenant(), step.role(), VmState.RUNNING, GuestHealth.RESPONSIVE);
        switch (step) {
            case Step.CreateInstance s -> observed.put(id, base.withState(VmState.RUNNING));
            case Step.StartInstance s -> observed.put(id, base.withState(VmState.RUNNING));
            case Step.ResumeInstance s -> observed.put(id, base.withState(VmState.RUNNING));
            case Step.WakeInstance s -> observed.put(id, base.withState(VmState.RUNNING));
            case Step.ClaimInstance s -> observed.put(id, new ObservedInstance(id, s.tenant(), s.role(),
                    VmState.RUNNING, GuestHealth.RESPONSIVE));
            case Step.RestartInstance s -> {
                observed.put(id, base.withState(VmState.RUNNING));
                restarts.put(id, new RestartHistory(s.attempt(), NOW, false, s.reason()));
            }
            case Step.PauseInstance s -> observed.put(id, base.withState(VmState.WARM));
            case Step.SleepInstance s -> observed.put(id, base.withState(VmState.SLEEPING));
            case Step.StopInstance s -> observed.put(id, base.withState(VmState.STOPPED));
            case Step.DestroyInstance s -> observed.remove(id);
            case Step.EvictInstance s -> observed.remove(id);
            case Step.MarkFailed s -> restarts.put(id, new RestartHistory(2, NOW, true, s.reason()));
        }
    }

    @Property
    void convergesToExactlyTheDesiredStatesAndThenPlansNothing(@ForAll("nodes") List<Slot> slots) {
        var run = converge(slots);
        var last = run.plans().getLast();
        assertThat(last.steps()).as("no convergence after %d rounds", MAX_ROUNDS).isEmpty();
        assertThat(last.waits()).isEmpty();

        var desiredIds = new HashMap<InstanceId, Target>();
        run.desired().instances().forEach(d -> desiredIds.put(d.id(), d.target()));
        for (var o : run.finalState().values()) {
            var target = desiredIds.get(o.id());
            assertThat(target).as("orphan %s survived", o.id()).isNotNull().isNotEqualTo(Target.DESTROYED);
            assertThat(o.state().name()).isEqualTo(target.name());
        }
        for (var e : desiredIds.entrySet()) {
            if (e.getValue() == Target.RUNNING || e.getValue() == Target.WARM || e.getValue() == Target.SLEEPING) {
                assertThat(run.finalState()).containsKey(e.getKey());
            }
        }
        // Idempotent: planning again against the post-state changes nothing.
        var again = planner.plan(run.desired(), List.copyOf(run.finalState().values()), run.restarts(), NOW);
        assertThat(again.isEmpty()).isTrue();
    }

    @Property
    void sameInputsGiveTheSamePlan(@ForAll("nodes") List<Slot> slots) {
        var a = converge(slots);
        var b = converge(slots);
        assertThat(a.plans()).isEqualTo(b.plans());
    }

    @Property
    void oneStepPerInstanceAndCreateOnlyWhenNothingExists(@ForAll("nodes") List<Slot> slots) {
        var run = converge(slots);
        var replay = converge(slots);
        // Re-walk the history to know what existed before each round.
        var observed = new TreeMap<InstanceId, ObservedInstance>();
        for (int i = 0; i < slots.size(); i++) {
            var s = slots.get(i);
            if (s.observed() != null) {
                observed.put(InstanceId.of("i-" + i), Fixtures.seen("i-" + i, s.tenant(), s.role(), s.observed()));
            }
        }
        var restarts = new HashMap<InstanceId, RestartHistory>();
        for (var plan : replay.plans()) {
            var ids = plan.steps().stream().map(Step::instance).toList();
            assertThat(ids).doesNotHaveDuplicates();
            for (var step : plan.steps()) {
                if (step instanceof Step.CreateInstance) {
                    assertThat(observed).as("created %s although it exists", step.instance())
                            .doesNotContainKey(step.instance());
                }
                if (step instanceof Step.WakeInstance) {
                    assertThat(observed.get(step.instance()).state()).isEqualTo(VmState.SLEEPING);
                }
            }
            plan.steps().forEach(s -> apply(s, observed, restarts));
        }
        assertThat(run.plans()).isEqualTo(replay.plans());
    }

    @Property
    void roleOrderHoldsAcrossRounds(@ForAll("nodes") List<Slot> slots) {
        var run = converge(slots);
        var targets = new HashMap<InstanceId, Target>();
        run.desired().instances().forEach(d -> targets.put(d.id(), d.target()));
        record Acted(int round, TenantId tenant, Role role, InstanceId id, Step step) {}
        var history = new ArrayList<Acted>();
        for (int r = 0; r < run.plans().size(); r++) {
            for (var s : run.plans().get(r).steps()) {
                history.add(new Acted(r, s.tenant(), s.role(), s.instance(), s));
            }
        }
        for (var earlier : history) {
            for (var later : history) {
                if (!earlier.tenant().equals(later.tenant())) {
                    continue;
                }
                // Up: a later role comes up only after every earlier role desired running came up.
                if (earlier.step().direction() == Step.Direction.UP && later.step().direction() == Step.Direction.UP
                        && targets.get(earlier.id()) == Target.RUNNING
                        && earlier.role().priority() < later.role().priority()) {
                    assertThat(later.round()).as("%s before %s", later, earlier).isGreaterThan(earlier.round());
                }
                // Down (sleep, stop, destroy, pause): later roles that are going down finish first.
                if (later.step().direction() == Step.Direction.DOWN
                        && targets.get(earlier.id()) != Target.RUNNING
                        && earlier.role().priority() > later.role().priority()) {
                    assertThat(later.round()).as("%s before %s", later, earlier).isGreaterThan(earlier.round());
                }
            }
        }
    }
}
