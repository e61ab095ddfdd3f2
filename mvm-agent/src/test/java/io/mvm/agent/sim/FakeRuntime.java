package io.mvm.agent.sim;

import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An in-memory node runtime for the fleet simulation. It outlives the agents that use it, like
 * VMMs and their on-disk handles outlive a killed agent. Operations take a random few milliseconds;
 * one cut short by an interrupt (the agent "killed" mid-operation) leaves what a real half-done
 * operation would: a half-booted VM reports CRASHED, other operations leave the previous state.
 */
final class FakeRuntime implements InstanceRuntime {
    /** One operation on one VM: when it started and ended on the simulation clock. */
    record Op(NodeId node, InstanceId id, TenantId tenant, Role role, String verb, Instant started, Instant ended) {}

    static final class Vm {
        final InstanceId id;
        final TenantId tenant;
        final Role role;
        VmState state;
        int boots;
        int wakes;
        boolean guestHung;
        String lastError;

        Vm(InstanceSpec spec) {
            this.id = spec.id();
            this.tenant = spec.tenant();
            this.role = spec.role();
        }
    }

    private final NodeId node;
    private final InstantSource clock;
    private final Random random;
    private final Map<InstanceId, Vm> vms = new TreeMap<>();
    private final Set<InstanceId> operating = new HashSet<>();
    final List<Op> journal = new CopyOnWriteArrayList<>();
    final List<String> violations = new CopyOnWriteArrayList<>();

    FakeRuntime(NodeId node, InstantSource clock, long seed) {
        this.node = node;
        this.clock = clock;
        this.random = new Random(seed);
    }

    @Override
    public synchronized List<LocalVm> observe() {
        var out = new ArrayList<LocalVm>();
        for (var vm : vms.values()) {
            out.add(new LocalVm(vm.id, vm.tenant, vm.role, vm.state, OptionalLong.empty(),
                    Optional.ofNullable(vm.lastError)));
        }
        return out;
    }

    synchronized Map<InstanceId, VmState> states() {
        var out = new TreeMap<InstanceId, VmState>();
        vms.values().forEach(vm -> out.put(vm.id, vm.state));
        return out;
    }

    synchronized Vm vm(InstanceId id) {
        return vms.get(id);
    }

    /** The VMM process dies. */
    synchronized void crash(InstanceId id) {
        var vm = vms.get(id);
        vm.state = VmState.CRASHED;
        vm.lastError = "VMM killed by the simulation";
    }

    synchronized void hangGuest(InstanceId id, boolean hung) {
        vms.get(id).guestHung = hung;
    }

    @Override
    public void create(InstanceSpec spec) {
        operate(spec.id(), "create", () -> {
            var vm = vms.get(spec.id());
            if (vm != null && vm.state != VmState.CRASHED) {
                return null;
            }
            vm = new Vm(spec);
            vm.state = VmState.BUSY;
            vms.put(spec.id(), vm);
            return vm;
        }, vm -> {
            vm.state = VmState.RUNNING;
            vm.boots++;
        }, vm -> {
            vm.state = VmState.CRASHED;
            vm.lastError = "boot cut short";
        });
    }

    @Override
    public void start(InstanceSpec spec) {
        boot(spec.id(), "start");
    }

    @Override
    public void restart(InstanceSpec spec) {
        boot(spec.id(), "restart");
    }

    private void boot(InstanceId id, String verb) {
        operate(id, verb, () -> {
            var vm = existing(id, verb);
            vm.state = VmState.BUSY;
            return vm;
        }, vm -> {
            vm.state = VmState.RUNNING;
            vm.boots++;
            vm.guestHung = false;
            vm.lastError = null;
        }, vm -> {
            vm.state = VmState.CRASHED;
            vm.lastError = verb + " cut short";
        });
    }

    @Override
    public void pause(InstanceId id) {
        transition(id, "pause", VmState.RUNNING, VmState.WARM);
    }

    @Override
    public void resume(InstanceId id) {
        transition(id, "resume", VmState.WARM, VmState.RUNNING);
    }

    @Override
    public void sleep(InstanceId id, Duration drainDeadline) {
        operate(id, "sleep", () -> {
            var vm = existing(id, "sleep");
            if (vm.state == VmState.SLEEPING) {
                return null;
            }
            if (vm.state != VmState.RUNNING && vm.state != VmState.WARM) {
                throw MvmException.precondition("cannot sleep " + id + " in state " + vm.state);
            }
            return vm;
        }, vm -> vm.state = VmState.SLEEPING, vm -> { });
    }

    @Override
    public void wake(InstanceSpec spec) {
        operate(spec.id(), "wake", () -> {
            var vm = existing(spec.id(), "wake");
            if (vm.state == VmState.RUNNING) {
                return null;
            }
            if (vm.state != VmState.SLEEPING) {
                throw MvmException.precondition("no snapshot to wake " + spec.id() + " from (state " + vm.state + ")");
            }
            return vm;
        }, vm -> {
            vm.state = VmState.RUNNING;
            vm.wakes++;
        }, vm -> { });
    }

    @Override
    public void stop(InstanceId id) {
        operate(id, "stop", () -> existing(id, "stop"), vm -> vm.state = VmState.STOPPED, vm -> { });
    }

    @Override
    public void destroy(InstanceId id) {
        operate(id, "destroy", () -> vms.get(id), vm -> vms.remove(id), vm -> { });
    }

    /** The VM goes as with destroy; this runtime has no data to keep (LocalInstanceRuntime does). */
    @Override
    public java.util.Optional<java.nio.file.Path> evict(InstanceId id, String reason) {
        operate(id, "evict", () -> vms.get(id), vm -> vms.remove(id), vm -> { });
        return java.util.Optional.empty();
    }

    @Override
    public synchronized boolean probeGuest(InstanceId id, Duration timeout) {
        var vm = vms.get(id);
        return vm != null && vm.state == VmState.RUNNING && !vm.guestHung;
    }

    @Override
    public Accelerator accelerator() {
        return Accelerator.TCG;
    }

    private void transition(InstanceId id, String verb, VmState from, VmState to) {
        operate(id, verb, () -> {
            var vm = existing(id, verb);
            if (vm.state == to) {
                return null;
            }
            if (vm.state != from) {
                throw MvmException.precondition("cannot " + verb + " " + id + " in state " + vm.state);
            }
            return vm;
        }, vm -> vm.state = to, vm -> { });
    }

    private Vm existing(InstanceId id, String verb) {
        var vm = vms.get(id);
        if (vm == null) {
            throw MvmException.notFound("cannot " + verb + " " + id + ": no such VM on " + node);
        }
        return vm;
    }

    interface Begin {
        Vm begin();
    }

    interface Change {
        void apply(Vm vm);
    }

    /**
     * Runs one operation: {@code begin} under the lock (null = nothing to do), a random latency
     * outside it, then {@code done}; {@code cutShort} instead when the agent is interrupted.
     */
    private void operate(InstanceId id, String verb, Begin begin, Change done, Change cutShort) {
        Vm vm;
        long latencyMs;
        var started = clock.instant();
        synchronized (this) {
            if (!operating.add(id)) {
                violations.add("two operations at once on " + id + " (" + verb + ")");
            }
            try {
                vm = begin.begin();
            } catch (RuntimeException e) {
                operating.remove(id);
                throw e;
            }
            if (vm == null) {
                operating.remove(id);
                return;
            }
            latencyMs = 3 + random.nextInt(20);
        }
        try {
            Thread.sleep(latencyMs);
        } catch (InterruptedException e) {
            synchronized (this) {
                cutShort.apply(vm);
                operating.remove(id);
            }
            Thread.currentThread().interrupt();
            throw MvmException.unavailable(verb + " of " + id + " interrupted", e);
        }
        synchronized (this) {
            done.apply(vm);
            operating.remove(id);
            journal.add(new Op(node, id, vm.tenant, vm.role, verb, started, clock.instant()));
        }
    }
}
