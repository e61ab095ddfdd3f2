package io.mvm.cli.bench.fleet;

import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.InstanceReport;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.NodeId;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A simulated host agent: the real agent protocol (the agent's own {@link CoordinatorClient}
 * over HTTP: register, heartbeat, desired state, observed reports with events) over an in-memory
 * runtime. VMs survive an agent crash (they do on a real host: the VMM is its own process), and so
 * do undelivered events (the real agent keeps them in an outbox file).
 */
final class SimAgent {
    /** One in-memory VM: what it runs as and how big it is. */
    record Vm(InstanceId id, InstanceState state, int vcpus, long memoryMib) {}

    /** An event the agent emitted, in emission order (the simulation checks the coordinator keeps the order). */
    record Emitted(InstanceId instance, Instant at, String type) {}

    private final NodeId node;
    private final Capacity capacity;
    private final CoordinatorClient client;
    private final Map<InstanceId, Vm> vms = new LinkedHashMap<>();
    private final Map<InstanceId, List<InstanceEvent>> outbox = new LinkedHashMap<>();
    private final List<Emitted> emitted = new ArrayList<>();
    private boolean registered;
    private long eventMillis;
    /** Set by the simulation's faults; a down or cut-off agent does nothing. */
    private boolean crashed;
    private boolean partitioned;
    private int slowEvery = 1;
    /** Whether the agent's last step reached the coordinator and applied its answer. */
    private boolean inContact;

    SimAgent(NodeId node, Capacity capacity, CoordinatorClient client) {
        this.node = node;
        this.capacity = capacity;
        this.client = client;
    }

    NodeId node() {
        return node;
    }

    Capacity capacity() {
        return capacity;
    }

    Map<InstanceId, Vm> vms() {
        return vms;
    }

    List<Emitted> emitted() {
        return emitted;
    }

    boolean inContact() {
        return inContact && !crashed && !partitioned;
    }

    void crash() {
        crashed = true;
        inContact = false;
    }

    /** A restart: registers again; VMs and the outbox are still there. */
    void restart() {
        crashed = false;
        registered = false;
    }

    void partition(boolean cut) {
        partitioned = cut;
        if (cut) {
            inContact = false;
        }
    }

    void slow(int every) {
        slowEvery = Math.max(1, every);
    }

    boolean down() {
        return crashed || partitioned;
    }

    /**
     * One pass of the agent: (re-)register, heartbeat, read the desired state, apply it to the
     * in-memory runtime, report what it has. {@code now} stamps events; a failure of any call
     * (coordinator down) leaves the state for the next pass, like the real agent's retry.
     */
    void step(long round, Instant now) {
        if (crashed || partitioned || round % slowEvery != 0) {
            return;
        }
        eventMillis = 0;
        try {
            if (!registered) {
                client.register(new NodeRegistration(node, capacity, Map.of("sim", "yes"), Accelerator.TCG));
                registered = true;
            }
            client.heartbeat(node, vms.size());
            DesiredSnapshot desired = client.desired(node, OptionalLong.empty(), Duration.ZERO);
            apply(desired, now);
            report(desired.generation());
            inContact = true;
        } catch (RuntimeException e) {
            inContact = false;
        }
    }

    private void apply(DesiredSnapshot desired, Instant now) {
        Map<InstanceId, DesiredInstance> wanted = new HashMap<>();
        for (DesiredInstance d : desired.instances()) {
            wanted.put(d.id(), d);
        }
        // The list is complete: what it omits goes (as the real agent evicts it).
        vms.keySet().removeIf(id -> !wanted.containsKey(id));
        outbox.keySet().removeIf(id -> !wanted.containsKey(id));
        for (DesiredInstance d : desired.instances()) {
            InstanceState target = switch (d.target()) {
                case RUNNING -> InstanceState.RUNNING;
                case WARM -> InstanceState.WARM;
                case SLEEPING -> InstanceState.SLEEPING;
                case STOPPED -> InstanceState.STOPPED;
                case DESTROYED -> InstanceState.DESTROYED;
            };
            Vm have = vms.get(d.id());
            if (have == null) {
                emit(d.id(), now, "created");
            }
            if (have == null || have.state() != target) {
                emit(d.id(), now, target.wireName());
                vms.put(d.id(), new Vm(d.id(), target, d.spec().vcpus(), d.spec().memoryMib()));
            }
        }
    }

    private void emit(InstanceId id, Instant now, String type) {
        // Strictly increasing times per agent within a pass, so the coordinator can keep the order.
        Instant at = now.plusMillis(eventMillis++);
        outbox.computeIfAbsent(id, k -> new ArrayList<>()).add(new InstanceEvent(at, id, type, "sim " + type));
        emitted.add(new Emitted(id, at, type));
    }

    private void report(long generation) {
        List<InstanceReport> reports = new ArrayList<>(vms.size());
        for (Vm vm : vms.values()) {
            reports.add(new InstanceReport(vm.id(), vm.state(), OptionalLong.of(1000), Accelerator.TCG,
                    Optional.empty(), outbox.getOrDefault(vm.id(), List.of())));
        }
        client.reportObserved(node, new ObservedReport(generation, reports));
        outbox.clear();
    }
}
