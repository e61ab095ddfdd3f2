package io.mvm.agent.sim;

import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.coordinator.Registration;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.placement.Capacity;
import io.mvm.core.placement.InstanceDemand;
import io.mvm.core.placement.NodeStatus;
import io.mvm.core.placement.NodeView;
import io.mvm.core.placement.Placement;
import io.mvm.core.pool.DesiredStateAssignment;
import io.mvm.core.pool.PoolMember;
import io.mvm.core.pool.TargetCounts;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.Target;
import io.mvm.model.DesiredCounts;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.PoolRef;
import io.mvm.model.Role;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An in-memory coordinator for the fleet simulation: pools with desired counts, per-instance
 * targets from {@link DesiredStateAssignment} (as the real coordinator), nodes chosen by {@link Placement}, per-node generations with
 * long-polling, heartbeats and lost-node detection. Its state survives its own "restart" (like a
 * database); only node registrations are forgotten then.
 */
final class FakeCoordinator {
    record Pool(PoolRef ref, Role role, Capacity size, DesiredCounts counts) {}

    static final class Instance {
        final InstanceId id;
        final Pool pool;
        Target target;
        NodeId node;
        InstanceState reported = InstanceState.PENDING;
        String placementProblem;

        Instance(InstanceId id, Pool pool, Target target) {
            this.id = id;
            this.pool = pool;
            this.target = target;
        }
    }

    static final class Node {
        final NodeId id;
        final Capacity capacity;
        Instant lastHeartbeat;
        NodeStatus status = NodeStatus.READY;
        long generation = 1;
        boolean registered = true;

        Node(NodeId id, Capacity capacity, Instant now) {
            this.id = id;
            this.capacity = capacity;
            this.lastHeartbeat = now;
        }
    }

    record NodeEvent(NodeId node, InstanceEvent event) {}

    private final InstantSource clock;
    private final Duration lostAfter;
    private final Map<PoolRef, Pool> pools = new TreeMap<>();
    private final Map<InstanceId, Instance> instances = new TreeMap<>();
    private final Map<NodeId, Node> nodes = new TreeMap<>();
    final List<NodeEvent> events = new CopyOnWriteArrayList<>();
    private int nextId = 1;
    private boolean unreachable;

    FakeCoordinator(InstantSource clock, Duration lostAfter) {
        this.clock = clock;
        this.lostAfter = lostAfter;
    }

    CoordinatorClient client() {
        return new CoordinatorClient() {
            @Override
            public Registration register(NodeRegistration r) {
                return FakeCoordinator.this.register(r);
            }

            @Override
            public void heartbeat(NodeId node, int instanceCount) {
                FakeCoordinator.this.heartbeat(node);
            }

            @Override
            public DesiredSnapshot desired(NodeId node, OptionalLong afterGeneration, Duration wait) {
                return FakeCoordinator.this.desired(node, afterGeneration, wait);
            }

            @Override
            public void reportObserved(NodeId node, ObservedReport report) {
                FakeCoordinator.this.report(node, report);
            }
        };
    }

    synchronized void createPool(String ref, Role role, Capacity size) {
        var p = PoolRef.parse(ref);
        pools.put(p, new Pool(p, role, size, new DesiredCounts(0, 0, 0)));
    }

    synchronized void scale(String ref, int running, int warm, int sleeping) {
        var p = PoolRef.parse(ref);
        pools.put(p, new Pool(p, pools.get(p).role(), pools.get(p).size(), new DesiredCounts(running, warm, sleeping)));
        reassign();
    }

    /** The coordinator process restarts: unreachable for a moment, node registrations forgotten. */
    synchronized void restart() {
        unreachable = true;
        nodes.values().forEach(n -> n.registered = false);
    }

    synchronized void cameBack() {
        unreachable = false;
        notifyAll();
    }

    /** Declares nodes lost that have not sent a heartbeat within {@code lostAfter}, and re-places. */
    synchronized void detectLostNodes() {
        var now = clock.instant();
        for (var n : nodes.values()) {
            if (n.status == NodeStatus.READY && n.lastHeartbeat.plus(lostAfter).isBefore(now)) {
                n.status = NodeStatus.LOST;
                instances.values().stream().filter(i -> n.id.equals(i.node))
                        .forEach(i -> i.reported = InstanceState.UNKNOWN);
            }
        }
        reassign();
    }

    synchronized Map<InstanceId, Instance> instances() {
        return Map.copyOf(instances);
    }

    synchronized int readyNodes() {
        return (int) nodes.values().stream().filter(n -> n.registered && n.status == NodeStatus.READY).count();
    }

    synchronized NodeStatus status(NodeId node) {
        return nodes.get(node).status;
    }

    synchronized Map<PoolRef, Pool> pools() {
        return Map.copyOf(pools);
    }

    private void reassign() {
        for (var pool : pools.values()) {
            var members = instances.values().stream()
                    .filter(i -> i.pool.ref().equals(pool.ref()) && i.target != Target.DESTROYED)
                    .map(i -> new PoolMember(i.id, DesiredState.parse(i.target.wireName()), i.reported, Instant.EPOCH))
                    .toList();
            var plan = DesiredStateAssignment.plan(members, TargetCounts.of(pool.counts(), 0));
            plan.changes().forEach((id, d) -> instances.get(id).target = Target.parse(d.wireName()));
            plan.remove().forEach(id -> instances.get(id).target = Target.DESTROYED);
            for (var d : plan.create()) {
                var id = InstanceId.of(pool.ref().tenant() + "-" + pool.ref().name() + "-" + nextId++);
                instances.put(id, new Instance(id, pool, Target.parse(d.wireName())));
            }
        }
        var live = instances.values().stream().filter(i -> i.target != Target.DESTROYED).toList();
        var plan = Placement.place(
                nodes.values().stream().map(n -> new NodeView(n.id, n.capacity, n.status, Map.of())).toList(),
                live.stream().map(i -> new InstanceDemand(i.id, i.pool.ref(), i.pool.size(), Map.of(),
                        Optional.ofNullable(i.node))).toList());
        for (var i : live) {
            var node = plan.assignments().get(i.id);
            if (node != null && !node.equals(i.node)) {
                i.node = node;
                i.reported = InstanceState.PENDING;
            }
            i.placementProblem = plan.unplaceable().get(i.id);
        }
        nodes.values().forEach(n -> n.generation++);
        notifyAll();
    }

    private synchronized Registration register(NodeRegistration r) {
        checkReachable();
        var n = nodes.get(r.node());
        if (n == null) {
            nodes.put(r.node(), new Node(r.node(), r.capacity(), clock.instant()));
            reassign();
        } else {
            n.registered = true;
            n.lastHeartbeat = clock.instant();
            if (n.status == NodeStatus.LOST) {
                n.status = NodeStatus.READY;
                reassign();
            }
        }
        return new Registration(r.node(), Optional.empty(), Duration.ofMillis(100));
    }

    private synchronized void heartbeat(NodeId node) {
        var n = known(node);
        n.lastHeartbeat = clock.instant();
        if (n.status == NodeStatus.LOST) {
            n.status = NodeStatus.READY;
            reassign();
        }
    }

    private synchronized DesiredSnapshot desired(NodeId node, OptionalLong after, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            var n = known(node);
            long left = deadline - System.nanoTime();
            if (after.isEmpty() || n.generation > after.getAsLong() || left <= 0) {
                return new DesiredSnapshot(n.generation, true, desiredFor(node));
            }
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw MvmException.unavailable("interrupted", e);
            }
        }
    }

    private List<DesiredInstance> desiredFor(NodeId node) {
        var out = new ArrayList<DesiredInstance>();
        int host = 10;
        for (var i : instances.values()) {
            host++;
            if (!node.equals(i.node)) {
                continue;
            }
            var spec = new InstanceSpec(i.id, i.pool.ref().tenant(), i.pool.ref().name(), i.pool.role(),
                    i.pool.size().vcpus(), i.pool.size().memoryMib(), i.pool.size().diskMib(),
                    new NetworkSpec("10.240.0." + host, 24, "10.240.0.1", Optional.empty(), 1), List.of(),
                    Map.of(), Map.of("token", "t-" + i.id), Map.of(), "r1");
            out.add(new DesiredInstance(spec, i.target));
        }
        return out;
    }

    private synchronized void report(NodeId node, ObservedReport report) {
        known(node);
        for (var r : report.instances()) {
            r.events().forEach(e -> events.add(new NodeEvent(node, e)));
            var i = instances.get(r.id());
            if (i == null || !node.equals(i.node)) {
                continue;
            }
            i.reported = r.state();
            if (r.state() == InstanceState.DESTROYED && i.target == Target.DESTROYED) {
                instances.remove(r.id());
            }
        }
        // An instance this node was told to destroy and no longer mentions is gone too.
        var mentioned = report.instances().stream().map(r -> r.id()).toList();
        instances.values().removeIf(i -> node.equals(i.node) && i.target == Target.DESTROYED
                && !mentioned.contains(i.id) && report.desiredGeneration() >= 0);
    }

    private Node known(NodeId node) {
        checkReachable();
        var n = nodes.get(node);
        if (n == null || !n.registered) {
            throw MvmException.notFound("node " + node + " is not registered");
        }
        return n;
    }

    private void checkReachable() {
        if (unreachable) {
            throw MvmException.unavailable("coordinator is restarting", null);
        }
    }
}
