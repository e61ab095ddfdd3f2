package io.mvm.agent.health;

import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.InstanceId;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Event source for VM health. It never acts on a VM itself: it only records verdicts in the
 * {@link HealthRegistry} and enqueues the instance, and the reconcile pass decides (restart with
 * backoff, or mark failed). Two signals:
 * <ul>
 *   <li>VMM death: each VMM pid is watched with {@link ProcessHandle#onExit()}, and every tick
 *       also looks for VMs the runtime reports CRASHED (catches deaths while the agent was down).</li>
 *   <li>Guest health: every running VM's guest agent is probed each tick, concurrently.</li>
 * </ul>
 * The tick body never throws, not even an {@link Error} from the runtime, so one bad probe or
 * round cannot stop monitoring for good.
 */
public final class HealthMonitor {
    private static final Logger log = LoggerFactory.getLogger(HealthMonitor.class);

    private final InstanceRuntime runtime;
    private final HealthRegistry registry;
    private final Consumer<InstanceId> enqueue;
    private final EventOutbox outbox;
    private final InstantSource clock;
    private final Duration probeTimeout;
    private final Set<String> watchedPids = ConcurrentHashMap.newKeySet();
    private final Set<InstanceId> reportedCrashes = ConcurrentHashMap.newKeySet();
    private volatile java.util.function.Predicate<InstanceId> restartsWorkload = id -> false;

    public HealthMonitor(InstanceRuntime runtime, HealthRegistry registry, Consumer<InstanceId> enqueue,
                         EventOutbox outbox, InstantSource clock, Duration probeTimeout) {
        this.runtime = runtime;
        this.registry = registry;
        this.enqueue = enqueue;
        this.outbox = outbox;
        this.clock = clock;
        this.probeTimeout = probeTimeout;
    }

    /** Runs ticks every {@code interval} until the thread is interrupted. */
    public void run(Duration interval) {
        while (!Thread.currentThread().isInterrupted()) {
            tick();
            try {
                Thread.sleep(interval);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    public void tick() {
        try {
            var vms = runtime.observe();
            var probes = new ArrayList<Thread>();
            var crashedNow = new HashSet<InstanceId>();
            for (var vm : vms) {
                watchPid(vm);
                switch (vm.state()) {
                    case CRASHED -> {
                        crashedNow.add(vm.id());
                        if (recordCrash(vm)) {
                            enqueue.accept(vm.id());
                        }
                    }
                    case RUNNING -> probes.add(Thread.ofVirtual().name("probe-" + vm.id()).start(() -> probe(vm)));
                    default -> registry.reset(vm.id());
                }
            }
            reportedCrashes.retainAll(crashedNow);
            for (var t : probes) {
                t.join();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            log.warn("health check round failed: {}", e.toString());
        }
    }

    private void probe(LocalVm vm) {
        InstanceRuntime.GuestProbe probe;
        try {
            probe = runtime.probe(vm.id(), probeTimeout);
        } catch (RuntimeException | Error e) {
            probe = InstanceRuntime.GuestProbe.SILENT;
        }
        if (registry.record(vm.id(), probe != InstanceRuntime.GuestProbe.SILENT)) {
            outbox.add(new InstanceEvent(clock.instant(), vm.id(), "guest-unresponsive",
                    "the guest agent did not answer within " + probeTimeout.toMillis() + " ms"));
            enqueue.accept(vm.id());
        }
        if (probe == InstanceRuntime.GuestProbe.WORKLOAD_EXITED && restartsWorkload.test(vm.id())
                && registry.workloadExited(vm.id())) {
            outbox.add(new InstanceEvent(clock.instant(), vm.id(), "workload-exited",
                    "the workload exited; the instance is restarted (it is a service)"));
            enqueue.accept(vm.id());
        }
    }

    /** Which instances want their VM restarted when the workload exits (none unless told). */
    public void restartsWorkload(java.util.function.Predicate<InstanceId> which) {
        this.restartsWorkload = java.util.Objects.requireNonNull(which, "which");
    }

    /** Records a VMM death once per crash; true if this call recorded it. */
    private boolean recordCrash(LocalVm vm) {
        if (!reportedCrashes.add(vm.id())) {
            return false;
        }
        outbox.add(new InstanceEvent(clock.instant(), vm.id(), "vmm-exited", vm.lastError().orElse("the VMM process is gone")));
        return true;
    }

    /** After a watched VMM exited: a crash only if the runtime says so (a planned stop or sleep is not). */
    private void recordIfCrashed(InstanceId id) {
        try {
            runtime.observe(id).stream()
                    .filter(v -> v.id().equals(id) && v.state() == VmState.CRASHED)
                    .findFirst()
                    .ifPresent(this::recordCrash);
        } catch (RuntimeException e) {
            log.warn("cannot check whether {} crashed: {}", id, e.getMessage());
        }
    }

    private void watchPid(LocalVm vm) {
        if (vm.pid().isEmpty() || vm.state() == VmState.CRASHED) {
            return;
        }
        long pid = vm.pid().getAsLong();
        if (!watchedPids.add(vm.id() + "/" + pid)) {
            return;
        }
        ProcessHandle.of(pid).ifPresentOrElse(
                handle -> handle.onExit().thenRun(() -> {
                    watchedPids.remove(vm.id() + "/" + pid);
                    // Record the death now: the pass enqueued below may restart the VM before the
                    // next tick could see it crashed, and then the crash would leave no event.
                    recordIfCrashed(vm.id());
                    enqueue.accept(vm.id());
                }),
                () -> {
                    watchedPids.remove(vm.id() + "/" + pid);
                    enqueue.accept(vm.id());
                });
    }
}
