package io.mvm.agent.local;

import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.InstanceReport;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.coordinator.Registration;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.runtime.Orphan;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.NodeId;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An in-process coordinator for one node whose desired state the test sets directly; it keeps the
 * last observed report and every event. Pure control-plane plumbing: the VMs behind it are real.
 */
final class ScriptedCoordinator implements CoordinatorClient {
    private long generation = 1;
    private List<DesiredInstance> desired = List.of();
    private volatile NodeRegistration registration;
    private final Map<InstanceId, InstanceState> observed = new ConcurrentHashMap<>();
    private final Map<InstanceId, InstanceReport> reports = new ConcurrentHashMap<>();
    private final List<InstanceEvent> events = new ArrayList<>();
    private volatile Optional<List<Orphan>> orphans = Optional.empty();

    synchronized void want(List<DesiredInstance> instances) {
        desired = List.copyOf(instances);
        generation++;
        notifyAll();
    }

    NodeRegistration registration() {
        return registration;
    }

    Optional<InstanceState> state(InstanceId id) {
        return Optional.ofNullable(observed.get(id));
    }

    /** The instance's entry in the last observed report. */
    Optional<InstanceReport> report(InstanceId id) {
        return Optional.ofNullable(reports.get(id));
    }

    /** The node-level orphans of the last observed report (empty: the report had none listed). */
    Optional<List<Orphan>> orphans() {
        return orphans;
    }

    synchronized List<InstanceEvent> events(InstanceId id) {
        return events.stream().filter(e -> e.instance().equals(id)).toList();
    }

    @Override
    public Registration register(NodeRegistration r) {
        registration = r;
        return new Registration(r.node(), Optional.empty(), Duration.ofSeconds(1));
    }

    @Override
    public void heartbeat(NodeId node, int instanceCount) {}

    @Override
    public synchronized DesiredSnapshot desired(NodeId node, OptionalLong afterGeneration, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        while (afterGeneration.isPresent() && generation <= afterGeneration.getAsLong()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw io.mvm.model.MvmException.unavailable("interrupted", e);
            }
        }
        return DesiredSnapshot.confirmed(generation, desired);
    }

    @Override
    public synchronized void reportObserved(NodeId node, ObservedReport report) {
        observed.clear();
        reports.clear();
        orphans = report.orphans();
        for (InstanceReport i : report.instances()) {
            observed.put(i.id(), i.state());
            reports.put(i.id(), i);
            events.addAll(i.events());
        }
    }
}
