package io.mvm.agent.reconcile;

import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.health.HealthRegistry;
import io.mvm.agent.queue.PassResult;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.GuestHealth;
import io.mvm.core.reconcile.ObservedInstance;
import io.mvm.core.reconcile.ReconcilePlanner;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import java.time.Duration;
import java.time.InstantSource;
import io.mvm.core.reconcile.Step;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One reconcile pass for one instance: observe the whole node (the role-order rules look at the
 * instance's tenant peers), plan, apply only this instance's steps, and say when to look again.
 * It reads the latest desired state and runtime state, never the event that woke it.
 */
public final class InstanceReconciler {
    private static final Logger log = LoggerFactory.getLogger(InstanceReconciler.class);

    private final DesiredStateHolder desired;
    private final InstanceRuntime runtime;
    private final ReconcilePlanner planner;
    private final StepExecutor executor;
    private final RestartBook restarts;
    private final HealthRegistry health;
    private final EventOutbox outbox;
    private final InstantSource clock;
    private final Duration waitRecheck;
    private final BiConsumer<InstanceId, TenantId> changed;
    /** Steps applied to an instance in a row without its plan moving on; see {@link #MAX_REPEATS}. */
    private final Map<InstanceId, Repeat> repeats = new ConcurrentHashMap<>();

    /** A runtime that acknowledges a step but never reaches its state must not spin a worker. */
    static final int MAX_REPEATS = 3;

    private record Repeat(Step step, int times) {}

    /**
     * @param waitRecheck how soon an instance held back by another one (role order, an operation
     *                    under way) is looked at again if nothing else enqueues it first
     * @param changed     told after a step was applied, so peers of the tenant are re-enqueued and
     *                    the new state is reported
     */
    public InstanceReconciler(DesiredStateHolder desired, InstanceRuntime runtime, ReconcilePlanner planner,
                              StepExecutor executor, RestartBook restarts, HealthRegistry health, EventOutbox outbox,
                              InstantSource clock, Duration waitRecheck, BiConsumer<InstanceId, TenantId> changed) {
        this.desired = desired;
        this.runtime = runtime;
        this.planner = planner;
        this.executor = executor;
        this.restarts = restarts;
        this.health = health;
        this.outbox = outbox;
        this.clock = clock;
        this.waitRecheck = waitRecheck;
        this.changed = changed;
    }

    public PassResult reconcile(InstanceId id) {
        var snapshot = desired.current();
        if (!snapshot.authoritative()) {
            // The desired-state follower enqueues everything once the coordinator has answered.
            return PassResult.done();
        }
        try {
            var observed = runtime.observe(id).stream().map(this::toObserved).toList();
            var wanted = snapshot.instances().stream().filter(d -> d.id().equals(id)).findFirst().orElse(null);
            var mine = observed.stream().filter(o -> o.id().equals(id)).findFirst();
            var now = clock.instant();
            // A service whose workload keeps exiting has not settled: its restarts keep backing off.
            restarts.settle(id, mine.map(o -> o.state() == VmState.RUNNING && o.health() != GuestHealth.UNRESPONSIVE
                    && o.health() != GuestHealth.WORKLOAD_EXITED).orElse(false), wanted, now);

            var plan = planner.plan(snapshot, observed, restarts.snapshot(), now);
            var steps = plan.stepsFor(id);
            if (!steps.isEmpty()) {
                var repeat = repeats.merge(id, new Repeat(steps.getFirst(), 1),
                        (old, fresh) -> old.step().equals(fresh.step()) ? new Repeat(old.step(), old.times() + 1) : fresh);
                if (repeat.times() > MAX_REPEATS) {
                    repeats.remove(id);
                    var message = steps.getFirst().getClass().getSimpleName() + " was applied " + MAX_REPEATS
                            + " times but the runtime still reports the old state";
                    outbox.add(new InstanceEvent(clock.instant(), id, "error", message));
                    return PassResult.failed(MvmException.internal(message, null));
                }
                for (var step : steps) {
                    log.info("{}: {}", id, step.getClass().getSimpleName());
                    executor.apply(step, wanted);
                    changed.accept(id, step.tenant());
                }
                return PassResult.requeueAfter(Duration.ZERO);
            }
            repeats.remove(id);
            var wait = plan.waitFor(id);
            if (wait.isPresent()) {
                var until = wait.get().until();
                return PassResult.requeueAfter(until.map(t -> Duration.between(now, t)).orElse(waitRecheck));
            }
            return PassResult.done();
        } catch (MvmException e) {
            outbox.add(new InstanceEvent(clock.instant(), id, "error", e.getMessage()));
            return PassResult.failed(e);
        }
    }

    /** The runtime's VMs with the latest guest-health verdicts attached. */
    public List<ObservedInstance> observe() {
        return runtime.observe().stream().map(this::toObserved).toList();
    }

    private ObservedInstance toObserved(LocalVm vm) {
        var h = vm.state() == VmState.RUNNING ? health.health(vm.id()) : GuestHealth.UNCHECKED;
        return new ObservedInstance(vm.id(), vm.tenant(), vm.role(), vm.state(), h);
    }
}
