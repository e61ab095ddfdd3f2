package io.mvm.coordinator.node;

import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.liveness.FleetLiveness;
import io.mvm.core.liveness.LivenessVerdict;
import io.mvm.core.liveness.NodePulse;
import io.mvm.coordinator.scheduler.DesiredEntry;
import io.mvm.coordinator.scheduler.GenerationSignal;
import io.mvm.coordinator.scheduler.Scheduler;
import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.netpolicy.OverlayPeers;
import io.mvm.core.placement.Capacity;
import io.mvm.core.placement.CapacityClaim;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.PoolRef;
import io.mvm.store.db.Database;
import io.mvm.store.instance.Instance;
import io.mvm.store.instance.InstanceEvent;
import io.mvm.store.instance.InstanceStore;
import io.mvm.store.node.Node;
import io.mvm.store.node.NodeOrphan;
import io.mvm.store.node.NodeStore;
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.PoolStore;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node side of the coordinator: registration, heartbeats, the desired-state long poll,
 * observed reports, and the housekeeping that declares silent nodes lost.
 */
public final class NodeService {
    private final io.mvm.store.template.TemplateRegistryStore templateRevisions =
            new io.mvm.store.template.TemplateRegistryStore();
    private static final Logger log = LoggerFactory.getLogger(NodeService.class);
    /** How often a long poll re-reads the database even without an in-process signal. */
    private static final Duration RECHECK = Duration.ofSeconds(1);
    public static final Duration MAX_WAIT = Duration.ofMinutes(5);
    /** Events kept per instance; older ones are pruned as new ones arrive. */
    static final int EVENTS_KEPT = 500;

    private final Database db;
    private final NodeStore nodes;
    private final InstanceStore instances;
    private final PoolStore pools;
    private final Scheduler scheduler;
    private final GenerationSignal signal;
    private final InstantSource clock;
    private final FleetLiveness liveness;
    private final io.mvm.store.route.RouteStore routes = new io.mvm.store.route.RouteStore();

    public NodeService(Database db, NodeStore nodes, InstanceStore instances, PoolStore pools, Scheduler scheduler,
                       GenerationSignal signal, InstantSource clock, FleetLiveness liveness) {
        this.db = db;
        this.nodes = nodes;
        this.instances = instances;
        this.pools = pools;
        this.scheduler = scheduler;
        this.signal = signal;
        this.clock = clock;
        this.liveness = liveness;
    }

    /** A node with what is placed on it, and the data it set aside (orphans) as it last reported. */
    public record NodeSummary(Node node, Capacity allocated, int instances, List<NodeOrphan> orphans,
                              Optional<Capacity> pendingClaim, Optional<String> underlay) {}

    /**
     * The desired state of a node at one generation: its instances, and the instances of its
     * tenants on other nodes it reaches over VXLAN.
     */
    public record Desired(long generation, List<DesiredEntry> instances, List<OverlayPeers.Peer> peers) {
        public Desired(long generation, List<DesiredEntry> instances) {
            this(generation, instances, List.of());
        }
    }

    /**
     * The routes nodes report serving (observations, issue 13): every one for the admin, a tenant
     * token's own tenant's only (asking for another tenant is refused).
     */
    public List<io.mvm.store.route.RouteStore.RouteRow> routes(Caller caller, Optional<io.mvm.model.TenantId> tenant) {
        var own = caller.tenant();
        if (own.isPresent() && tenant.isPresent() && !own.equals(tenant)) {
            throw new MvmException(io.mvm.model.ErrorCategory.PERMISSION_DENIED, "this token is for tenant " + own.get()
                    + " and may not list the routes of tenant " + tenant.get());
        }
        var only = own.isPresent() ? own : tenant;
        return db.read(tx -> routes.list(tx, only));
    }

    public List<NodeSummary> list() {
        return db.read(tx -> {
            Map<PoolRef, Pool> poolsByRef = pools.listAll(tx).stream().collect(Collectors.toMap(Pool::ref, p -> p));
            Map<NodeId, Capacity> allocated = new HashMap<>();
            Map<NodeId, Integer> counts = new HashMap<>();
            for (Instance i : instances.listAll(tx)) {
                Pool p = poolsByRef.get(i.pool());
                if (i.node().isEmpty() || p == null || i.desired() == DesiredState.DESTROYED) {
                    continue;
                }
                allocated.merge(i.node().get(), new Capacity(p.vcpus(), p.memoryMib(), p.dataDiskMib()), Capacity::plus);
                counts.merge(i.node().get(), 1, Integer::sum);
            }
            Map<NodeId, List<NodeOrphan>> orphans = nodes.orphans(tx);
            Map<NodeId, String> underlays = nodes.underlays(tx);
            List<NodeSummary> out = new java.util.ArrayList<>();
            for (Node n : nodes.list(tx)) {
                out.add(new NodeSummary(n, allocated.getOrDefault(n.id(), Capacity.ZERO), counts.getOrDefault(n.id(), 0),
                        orphans.getOrDefault(n.id(), List.of()),
                        nodes.approval(tx, n.id()).pending().map(NodeService::capacity),
                        Optional.ofNullable(underlays.get(n.id()))));
            }
            return out;
        });
    }

    public NodeSummary get(NodeId id) {
        return db.read(tx -> {
            Node n = nodes.find(tx, id).orElseThrow(() -> notFound(id));
            return summaries(tx, List.of(n)).getFirst();
        });
    }

    /**
     * Up to {@code limit} nodes after {@code after} in id order; with labels given, only nodes
     * carrying all of them (filtered here, so a page may be read in several batches).
     */
    public List<NodeSummary> page(Optional<String> after, int limit, Map<String, String> labels,
                                  Optional<String> status) {
        return db.read(tx -> {
            List<Node> chosen = new java.util.ArrayList<>();
            Optional<String> from = after;
            while (chosen.size() < limit) {
                List<Node> batch = nodes.page(tx, from, Math.max(limit, 100));
                for (Node n : batch) {
                    if (n.labels().entrySet().containsAll(labels.entrySet())
                            && status.map(n.status()::equals).orElse(true) && chosen.size() < limit) {
                        chosen.add(n);
                    }
                }
                if (batch.size() < Math.max(limit, 100)) {
                    break;
                }
                from = Optional.of(batch.getLast().id().value());
            }
            return summaries(tx, chosen);
        });
    }

    private List<NodeSummary> summaries(io.mvm.store.db.Tx tx, List<Node> page) throws java.sql.SQLException {
        Map<NodeId, InstanceStore.NodeUse> use = instances.useOn(tx, page.stream().map(Node::id).toList());
        Map<NodeId, List<NodeOrphan>> orphans = page.isEmpty() ? Map.of() : nodes.orphans(tx);
        Map<NodeId, String> underlays = page.isEmpty() ? Map.of() : nodes.underlays(tx);
        List<NodeSummary> out = new java.util.ArrayList<>();
        for (Node n : page) {
            InstanceStore.NodeUse u = use.get(n.id());
            out.add(new NodeSummary(n, u == null ? Capacity.ZERO : new Capacity(u.vcpus(), u.memoryMib(), u.diskMib()),
                    u == null ? 0 : u.count(), orphans.getOrDefault(n.id(), List.of()),
                    nodes.approval(tx, n.id()).pending().map(NodeService::capacity),
                    Optional.ofNullable(underlays.get(n.id()))));
        }
        return out;
    }

    /**
     * Registers or re-registers a node (idempotent); a lost node becomes ready. Its capacity is
     * what it claims, capped by what was approved ({@link CapacityClaim}): the first claim is
     * approved as it is, a bigger one later waits for {@link #approveCapacity}.
     */
    public Node register(Caller caller, NodeRegistration r) {
        caller.requireNodeOrAdmin(r.node());
        Instant now = clock.instant();
        Node node = db.inTransaction(tx -> {
            Optional<Node> existing = nodes.find(tx, r.node());
            NodeStore.Approval approval = nodes.approval(tx, r.node());
            CapacityClaim claim = CapacityClaim.judge(r.capacity(), approval.approved().map(NodeService::capacity));
            Capacity c = claim.effective();
            Node next = new Node(r.node(), c.vcpus(), c.memoryMib(), c.diskMib(),
                    r.labels(), r.accelerator(), Node.READY, Optional.of(now),
                    existing.map(n -> n.version() + 1).orElse(1L), existing.map(Node::createdAt).orElse(now),
                    r.agentUrl().map(URI::toString), r.agentToken(), existing.map(Node::generation).orElse(0L),
                    existing.map(Node::desiredHash).orElse(""), existing.map(Node::observedGeneration).orElse(-1L));
            if (existing.isPresent()) {
                nodes.reregister(tx, next);
            } else {
                nodes.insert(tx, next);
            }
            nodes.setUnderlay(tx, r.node(), r.underlay());
            nodes.setApproval(tx, r.node(), new NodeStore.Approval(
                    Optional.of(approval.approved().orElse(row(r.capacity()))), claim.pending().map(NodeService::row)));
            claim.pending().ifPresent(p -> log.warn("node {} claims {} but {} is approved: it gets the approved capacity"
                    + " until an admin approves the claim (mvm node approve {})", r.node(), p.describe(),
                    c.describe(), r.node()));
            return next;
        });
        log.info("node {} registered by {} ({} vCPUs, {} MiB, {})", r.node(), caller.actor(), node.vcpus(),
                node.memoryMib(), r.accelerator());
        scheduler.convergeQuietly();
        return node;
    }

    /** Approves a node's waiting capacity claim (admin); it applies at once. No claim waiting: 409. */
    public NodeSummary approveCapacity(Caller caller, NodeId id) {
        caller.requireAdmin();
        db.inTransaction(tx -> {
            Node n = nodes.find(tx, id).orElseThrow(() -> notFound(id));
            NodeStore.Approval approval = nodes.approval(tx, id);
            NodeStore.CapacityRow claim = approval.pending().orElseThrow(() -> MvmException.conflict("node '" + id
                    + "' has no capacity claim waiting for approval"));
            nodes.setApproval(tx, id, new NodeStore.Approval(Optional.of(claim), Optional.empty()));
            nodes.reregister(tx, new Node(id, claim.vcpus(), claim.memoryMib(), claim.diskMib(), n.labels(),
                    n.accelerator(), n.status(), n.lastHeartbeat(), n.version() + 1, n.createdAt(), n.agentUrl(),
                    n.agentToken(), n.generation(), n.desiredHash(), n.observedGeneration()));
            log.info("node {}: {} approved capacity {} vCPUs, {} MiB", id, caller.actor(), claim.vcpus(),
                    claim.memoryMib());
            return null;
        });
        scheduler.convergeQuietly();
        return get(id);
    }

    private static Capacity capacity(NodeStore.CapacityRow r) {
        return new Capacity(r.vcpus(), r.memoryMib(), r.diskMib());
    }

    private static NodeStore.CapacityRow row(Capacity c) {
        return new NodeStore.CapacityRow(c.vcpus(), c.memoryMib(), c.diskMib());
    }

    public void heartbeat(Caller caller, NodeId id) {
        caller.requireNodeOrAdmin(id);
        boolean wasLost = db.inTransaction(tx -> {
            nodes.find(tx, id).orElseThrow(() -> notFound(id));
            return nodes.heartbeat(tx, id, clock.instant());
        });
        if (wasLost) {
            log.info("node {} is back", id);
            scheduler.convergeQuietly();
        }
    }

    /**
     * The long poll: answers at once without {@code after}; otherwise when the generation passes
     * it or {@code wait} is over, with the current state either way.
     */
    public Desired desired(Caller caller, NodeId id, OptionalLong after, Duration wait) throws InterruptedException {
        caller.requireNodeOrAdmin(id);
        if (wait.isNegative() || wait.compareTo(MAX_WAIT) > 0) {
            throw MvmException.invalid("wait_secs must be 0-" + MAX_WAIT.toSeconds() + ", got " + wait.toSeconds());
        }
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            long epoch = signal.epoch();
            long generation = db.read(tx -> {
                nodes.find(tx, id).orElseThrow(() -> notFound(id));
                return nodes.generation(tx, id);
            });
            long left = deadline - System.nanoTime();
            if (after.isEmpty() || generation > after.getAsLong() || left <= 0 || signal.closed()) {
                return db.read(tx -> new Desired(nodes.generation(tx, id), scheduler.desiredFor(tx, id),
                        scheduler.peersFor(tx, id)));
            }
            signal.awaitAfter(epoch, Duration.ofNanos(Math.min(left, RECHECK.toNanos())));
        }
    }

    /**
     * Takes a node's report: observed fields per instance (only for instances placed on this
     * node), events appended once each, and instances wanted destroyed and reported destroyed
     * deleted for good.
     */
    public void observe(Caller caller, NodeId id, ObservedReport report) {
        caller.requireNodeOrAdmin(id);
        long at = clock.instant().toEpochMilli();
        // Counts deletions and state changes that may change what a node should run: a freed
        // address or capacity, or a state change in a tenant whose pools have several roles (its
        // gateway now running lets its workers be created, RoleGate). Other state changes need no
        // scheduling pass: one per report made placing a fleet cost hosts x instances.
        int changed = db.inTransaction(tx -> {
            java.util.Set<io.mvm.model.TenantId> stateChanged = new java.util.HashSet<>();
            nodes.find(tx, id).orElseThrow(() -> notFound(id));
            nodes.observedGeneration(tx, id, report.desiredGeneration());
            if (report.orphans().isPresent()) {
                nodes.setOrphans(tx, id, report.orphans().get());
            }
            int changes = 0;
            for (ObservedReport.Observed o : report.instances()) {
                Optional<Instance> found = instances.find(tx, o.id());
                if (found.isEmpty() || !found.get().node().equals(Optional.of(id))) {
                    continue; // not this node's (any more): the agent removes it once it follows its list
                }
                Instance current = found.get();
                boolean appended = false;
                for (ObservedReport.Event e : o.events()) {
                    appended |= instances.appendEvent(tx, new InstanceEvent(o.id(), e.time(), e.type(), e.message(), id),
                            current.pool());
                }
                if (appended) {
                    instances.pruneEvents(tx, o.id(), EVENTS_KEPT);
                }
                if (o.state() == InstanceState.DESTROYED && current.desired() == DesiredState.DESTROYED) {
                    instances.delete(tx, o.id());
                    changes++;
                } else {
                    if (o.state() != current.state()) {
                        stateChanged.add(current.pool().tenant());
                    }
                    instances.observe(tx, o.id(), id, o.state(), o.pid(),
                            o.accelerator().map(a -> a.wireName()), o.lastError(), at);
                    if (o.booted().isPresent()) {
                        templateRevisions.reportBooted(tx, o.id().value(), o.booted().get().template(),
                                o.booted().get().revision(), Instant.ofEpochMilli(at));
                    }
                    routes.replaceIfChanged(tx, o.id(), o.routes());
                }
            }
            for (io.mvm.model.TenantId tenant : stateChanged) {
                if (pools.list(tx, tenant).stream().map(Pool::role).distinct().count() > 1) {
                    changes++;
                }
            }
            return changes;
        });
        if (changed > 0) {
            scheduler.convergeQuietly();
        }
    }

    /**
     * Marks nodes silent for longer than the lost timeout as lost and their instances unknown.
     * Silence counts from the later of a node's last heartbeat and the moment this coordinator
     * began watching, at most a share of the fleet is declared lost per window, and nothing is
     * declared lost while most of the fleet is silent at once ({@link FleetLiveness}). Returns the
     * nodes marked lost.
     */
    public List<NodeId> markSilentNodesLost() {
        Duration lostAfter = liveness.policy().lostAfter();
        List<NodeId> lost = db.inTransaction(tx -> {
            List<NodePulse> pulses = nodes.list(tx).stream()
                    .map(n -> new NodePulse(n.id(), n.ready(), n.lastHeartbeat())).toList();
            LivenessVerdict verdict = liveness.judge(pulses);
            Instant cutoff = clock.instant().minus(lostAfter);
            List<NodeId> marked = new java.util.ArrayList<>();
            for (NodeId n : verdict.markLost()) {
                // Re-checked in the UPDATE itself: a heartbeat that committed since the read wins.
                if (nodes.markLost(tx, n, cutoff)) {
                    instances.markUnknownOn(tx, n);
                    marked.add(n);
                }
            }
            return marked;
        });
        liveness.declared(lost.size());
        lost.forEach(n -> log.warn("node {} sent no heartbeat for over {}s: marked lost, its instances unknown", n,
                lostAfter.toSeconds()));
        return lost;
    }

    /** A page of the instance's history older than {@code before} (the newest when empty), oldest first. */
    public List<InstanceStore.KeyedEvent> eventsBefore(io.mvm.model.InstanceId id,
                                                       Optional<InstanceStore.EventKey> before, int limit) {
        return db.read(tx -> {
            instances.find(tx, id).orElseThrow(() -> MvmException.notFound("instance '" + id + "' not found"));
            return instances.eventsBefore(tx, id, before, limit);
        });
    }

    public List<InstanceEvent> events(io.mvm.model.InstanceId id, int limit) {
        if (limit < 1 || limit > 1000) {
            throw MvmException.invalid("limit must be 1-1000, got " + limit);
        }
        return db.read(tx -> {
            instances.find(tx, id).orElseThrow(() -> MvmException.notFound("instance '" + id + "' not found"));
            return instances.events(tx, id, limit);
        });
    }

    static MvmException notFound(NodeId id) {
        return MvmException.notFound("node '" + id + "' is not registered");
    }
}
