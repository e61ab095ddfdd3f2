package io.mvm.core.reconcile;

import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Turns a node's desired state and what its runtime observes into ordered steps. Pure: no I/O, no
 * clock of its own, the same inputs give the same plan; applying a plan and planning again
 * converges on an empty plan.
 *
 * <p>Rules (see docs/reconcile.md):
 * <ul>
 *   <li>Convert before create: a warm instance is resumed, a sleeping one woken, a stopped one
 *       started; only an instance with nothing on this node is created.</li>
 *   <li>Role order within a tenant: a step that brings an instance up waits while an instance of
 *       an earlier role (gateway, builder, worker, capability-imessage) of the same tenant is
 *       desired running but not running; a step that takes an instance down waits while an
 *       instance of a later role of the same tenant that is not desired running still has work
 *       left to reach its target.</li>
 *   <li>VMs the desired state does not name are evicted (VMM ended, data kept aside) only when
 *       the snapshot is authoritative; before that nothing is created or removed at all. Only an
 *       instance desired {@code destroyed} is destroyed with its data.</li>
 *   <li>A crashed VMM or an unresponsive guest is restarted when its backoff allows; after
 *       {@link PlannerSettings#maxRestarts()} restarts it is marked failed instead.</li>
 * </ul>
 */
public final class ReconcilePlanner {
    private static final String UNCONFIRMED = "waiting for the coordinator to confirm the desired state";
    private static final String BUSY = "an operation on it is still under way";
    private static final String UNKNOWN = "the runtime could not read its state (its VMM's monitor did not answer);"
            + " looking again";

    private final PlannerSettings settings;

    public ReconcilePlanner(PlannerSettings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
    }

    public Plan plan(DesiredSnapshot desired, List<ObservedInstance> observed, Map<InstanceId, RestartHistory> restarts,
                     Instant now) {
        var desiredById = new TreeMap<InstanceId, DesiredInstance>();
        for (var d : desired.instances()) {
            if (desiredById.put(d.id(), d) != null) {
                throw MvmException.invalid("desired state names instance " + d.id() + " twice");
            }
        }
        var observedById = new TreeMap<InstanceId, ObservedInstance>();
        for (var o : observed) {
            if (observedById.put(o.id(), o) != null) {
                throw MvmException.invalid("runtime reports instance " + o.id() + " twice");
            }
        }
        var ids = new TreeSet<InstanceId>();
        ids.addAll(desiredById.keySet());
        ids.addAll(observedById.keySet());

        if (!desired.authoritative()) {
            var waits = ids.stream().map(id -> new Wait(id, UNCONFIRMED, Optional.empty())).toList();
            return new Plan(List.of(), waits);
        }

        var intents = new TreeMap<InstanceId, Intent>();
        for (var id : ids) {
            var d = desiredById.get(id);
            var o = observedById.get(id);
            intent(d, o, restarts.getOrDefault(id, RestartHistory.NONE), now, desired.generation())
                    .ifPresent(i -> intents.put(id, i));
        }

        var steps = new ArrayList<Step>();
        var waits = new ArrayList<Wait>();
        for (var entry : intents.entrySet()) {
            switch (entry.getValue()) {
                case Intent.Act act -> {
                    var reason = blocker(act.step(), desiredById, observedById, intents);
                    if (reason.isPresent()) {
                        waits.add(new Wait(entry.getKey(), reason.get(), Optional.empty()));
                    } else {
                        steps.add(act.step());
                    }
                }
                case Intent.Hold hold -> waits.add(hold.reason());
            }
        }
        steps.sort(ORDER);
        return new Plan(steps, waits);
    }

    /** What one instance needs, before role ordering is applied. */
    private sealed interface Intent {
        record Act(Step step) implements Intent {}

        record Hold(Wait reason) implements Intent {}
    }

    private Optional<Intent> intent(DesiredInstance d, ObservedInstance o, RestartHistory history, Instant now,
                                    long generation) {
        if (o != null && o.state() == VmState.BUSY) {
            return hold(o.id(), BUSY);
        }
        if (o != null && o.state() == VmState.UNKNOWN) {
            // Not knowing is no reason to act: a restart or a destroy would kill a VMM that may be
            // perfectly healthy. The runtime itself turns a monitor that stays silent into CRASHED.
            return hold(o.id(), UNKNOWN);
        }
        if (d == null) {
            // Omitted is not "destroyed": the instance may live on elsewhere and need this data.
            return act(new Step.EvictInstance(o.id(), o.tenant(), o.role(),
                    "not in the desired state of generation " + generation));
        }
        var spec = d.spec();
        if (d.target() == Target.DESTROYED) {
            return o == null ? none() : act(new Step.DestroyInstance(o.id(), o.tenant(), o.role(), "desired destroyed"));
        }
        if (o == null) {
            return d.target() == Target.STOPPED ? none() : act(new Step.CreateInstance(spec));
        }
        if (o.tenant().standby() && !spec.tenant().standby()) {
            // A claimed warm VM. Only a paused one can take on a tenant's identity; one that crashed
            // or stopped while standing by has nothing worth keeping and is booted afresh as the
            // tenant's own (destroyed here, created on the next pass).
            return o.state() == VmState.WARM
                    ? act(new Step.ClaimInstance(spec))
                    : act(new Step.DestroyInstance(o.id(), o.tenant(), o.role(), "claimed while not standing by warm"));
        }
        return switch (o.state()) {
            case BUSY -> hold(o.id(), BUSY);
            case UNKNOWN -> hold(o.id(), UNKNOWN);
            case CRASHED -> d.target() == Target.STOPPED
                    ? act(new Step.StopInstance(o.id(), o.tenant(), o.role()))
                    : restart(spec, "the VMM exited unexpectedly", history, now);
            case RUNNING -> switch (d.target()) {
                case RUNNING -> switch (o.health()) {
                    case UNRESPONSIVE -> restart(spec, "the guest agent stopped answering", history, now);
                    case WORKLOAD_EXITED -> restart(spec, "the workload exited", history, now);
                    case UNCHECKED, RESPONSIVE -> none();
                };
                case WARM -> act(new Step.PauseInstance(o.id(), o.tenant(), o.role()));
                case SLEEPING -> act(new Step.SleepInstance(o.id(), o.tenant(), o.role(), drainDeadline(d)));
                case STOPPED -> act(new Step.StopInstance(o.id(), o.tenant(), o.role()));
                case DESTROYED -> throw new IllegalStateException("handled above");
            };
            case WARM -> switch (d.target()) {
                case RUNNING -> act(new Step.ResumeInstance(o.id(), o.tenant(), o.role()));
                case WARM -> none();
                case SLEEPING -> act(new Step.SleepInstance(o.id(), o.tenant(), o.role(), drainDeadline(d)));
                case STOPPED -> act(new Step.StopInstance(o.id(), o.tenant(), o.role()));
                case DESTROYED -> throw new IllegalStateException("handled above");
            };
            case SLEEPING -> switch (d.target()) {
                case RUNNING, WARM -> act(new Step.WakeInstance(spec));
                case SLEEPING -> none();
                case STOPPED -> act(new Step.StopInstance(o.id(), o.tenant(), o.role()));
                case DESTROYED -> throw new IllegalStateException("handled above");
            };
            case STOPPED -> switch (d.target()) {
                case RUNNING, WARM, SLEEPING -> act(new Step.StartInstance(spec));
                case STOPPED -> none();
                case DESTROYED -> throw new IllegalStateException("handled above");
            };
        };
    }

    /**
     * An instance with an idle policy is suspended as it is (zero: no drain): the policy sleeps it
     * only with no open connection, and a wake must give clients back the same running server.
     */
    private Duration drainDeadline(DesiredInstance d) {
        return d.exposure().idle().isPresent() ? Duration.ZERO : settings.drainDeadline();
    }

    private Optional<Intent> restart(InstanceSpec spec, String reason, RestartHistory history, Instant now) {
        if (history.gaveUp()) {
            return none();
        }
        if (history.restarts() >= settings.maxRestarts()) {
            return act(new Step.MarkFailed(spec.id(), spec.tenant(), spec.role(),
                    reason + "; gave up after " + history.restarts() + " restarts"));
        }
        if (now.isBefore(history.notBefore())) {
            return Optional.of(new Intent.Hold(new Wait(spec.id(),
                    reason + "; restart " + (history.restarts() + 1) + " is backed off", Optional.of(history.notBefore()))));
        }
        return act(new Step.RestartInstance(spec, reason, history.restarts() + 1));
    }

    /** Why {@code step} must wait for another instance of its tenant, if it must. */
    private static Optional<String> blocker(Step step, Map<InstanceId, DesiredInstance> desired,
                                            Map<InstanceId, ObservedInstance> observed, Map<InstanceId, Intent> intents) {
        return switch (step.direction()) {
            case UP -> desired.values().stream()
                    .filter(d -> d.tenant().equals(step.tenant()) && d.role().priority() < step.role().priority())
                    .filter(d -> d.target() == Target.RUNNING)
                    .filter(d -> observed.get(d.id()) == null || !observed.get(d.id()).runningAndHealthy())
                    .min(Comparator.comparing((DesiredInstance d) -> d.role().priority()).thenComparing(DesiredInstance::id))
                    .map(d -> "waiting for " + d.role() + " " + d.id() + " of tenant " + d.tenant() + " to be running");
            case DOWN -> intents.keySet().stream()
                    .filter(id -> isGoingDown(desired.get(id)))
                    .map(id -> Member.of(id, desired.get(id), observed.get(id)))
                    .filter(m -> m.tenant().equals(step.tenant()) && m.role().priority() > step.role().priority())
                    .max(Comparator.comparing((Member m) -> m.role().priority()).thenComparing(Member::id))
                    .map(m -> "waiting for " + m.role() + " " + m.id() + " of tenant " + m.tenant()
                            + " to go down first");
            case NONE -> Optional.empty();
        };
    }

    /** Tenant and role of an instance, from the desired state or else from the VM's own handle. */
    private record Member(InstanceId id, TenantId tenant, Role role) {
        static Member of(InstanceId id, DesiredInstance d, ObservedInstance o) {
            return d != null ? new Member(id, d.tenant(), d.role()) : new Member(id, o.tenant(), o.role());
        }
    }

    private static boolean isGoingDown(DesiredInstance d) {
        return d == null || d.target() != Target.RUNNING;
    }

    /** Down steps first in reverse role order, then the rest in role order; ties by tenant and id. */
    private static final Comparator<Step> ORDER = Comparator
            .comparingInt((Step s) -> s.direction() == Step.Direction.DOWN ? 0 : 1)
            .thenComparingInt(s -> s.direction() == Step.Direction.DOWN ? -s.role().priority() : s.role().priority())
            .thenComparing(Step::tenant, Comparator.<TenantId>naturalOrder())
            .thenComparing(Step::instance);

    private static Optional<Intent> act(Step step) {
        return Optional.of(new Intent.Act(step));
    }

    private static Optional<Intent> hold(InstanceId id, String reason) {
        return Optional.of(new Intent.Hold(new Wait(id, reason, Optional.empty())));
    }

    private static Optional<Intent> none() {
        return Optional.empty();
    }
}
