package io.mvm.coordinator.scheduler;

import io.mvm.coordinator.liveness.FleetLiveness;
import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.liveness.LostNodeHold;
import io.mvm.core.netpolicy.Ipv4Address;
import io.mvm.core.netpolicy.MacAddress;
import io.mvm.core.netpolicy.OverlayPeers;
import io.mvm.core.network.Ipv4;
import io.mvm.core.network.TenantSubnet;
import io.mvm.core.placement.Capacity;
import io.mvm.core.placement.InstanceDemand;
import io.mvm.core.placement.NodeStatus;
import io.mvm.core.placement.NodeView;
import io.mvm.core.placement.Placement;
import io.mvm.core.placement.PlacementDecision;
import io.mvm.core.placement.PlacementPlan;
import io.mvm.core.pool.RoleGate;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.NodeId;
import io.mvm.model.PoolRef;
import io.mvm.model.TenantId;
import io.mvm.store.db.ClusterSettings;
import io.mvm.store.db.Database;
import io.mvm.store.db.Tx;
import io.mvm.store.instance.Instance;
import io.mvm.store.instance.InstanceStore;
import io.mvm.store.node.Node;
import io.mvm.store.node.NodeStore;
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.PoolStore;
import io.mvm.store.tenant.Tenant;
import io.mvm.store.tenant.TenantStore;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import io.mvm.core.scale.Exposure;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings the fleet's assignments in line with intent, level-triggered: one pass places every live
 * instance with the pure {@link Placement} over all nodes, persists the moves (and, for
 * instances no node can take, the reason), then recomputes each node's desired list and moves
 * its generation forward exactly when that list changed. Any change anywhere (a pool scaled, a
 * node registered or lost, an instance confirmed gone) just runs a pass; a periodic pass catches
 * the rest. Only the leader runs passes (see {@code leader.Leadership}); they are serialised by a
 * cluster-wide lock as well.
 */
public final class Scheduler {
    private static final Logger log = LoggerFactory.getLogger(Scheduler.class);
    public static final String LOCK = "scheduler_lock";

    private final Database db;
    private final ClusterSettings settings;
    private final io.mvm.store.route.RouteStore routes = new io.mvm.store.route.RouteStore();
    private final NodeStore nodes;
    private final TenantStore tenants;
    private final PoolStore pools;
    private final InstanceStore instances;
    private final GenerationSignal signal;
    private final InstantSource clock;
    private final FleetLiveness liveness;
    private final io.mvm.coordinator.leader.Leadership leadership;
    private final io.mvm.store.template.TemplateRegistryStore templates = new io.mvm.store.template.TemplateRegistryStore();

    /**
     * @param liveness tells how long a lost node keeps its instances before they may be placed
     *                 elsewhere. Until then a lost node keeps them (reported unknown) and gets nothing
     *                 new: a node that is only cut off for a moment would otherwise run its copies
     *                 while a second copy with the same address boots elsewhere.
     */
    public Scheduler(Database db, ClusterSettings settings, NodeStore nodes, TenantStore tenants, PoolStore pools,
                     InstanceStore instances, GenerationSignal signal, InstantSource clock, FleetLiveness liveness,
                     io.mvm.coordinator.leader.Leadership leadership) {
        this.leadership = leadership;
        this.db = db;
        this.settings = settings;
        this.nodes = nodes;
        this.tenants = tenants;
        this.pools = pools;
        this.instances = instances;
        this.signal = signal;
        this.clock = clock;
        this.liveness = liveness;
        db.inTransaction(tx -> settings.putIfAbsent(tx, LOCK, "-"));
    }

    /**
     * One pass, if this coordinator leads (fenced by its lease epoch); returns the nodes whose
     * generation moved. A follower runs none: the leader's next housekeeping round places what a
     * follower's request changed.
     */
    public Set<NodeId> converge() {
        Set<NodeId> advanced = leadership.asLeader(() -> db.inTransaction(this::converge)).orElse(Set.of());
        if (!advanced.isEmpty()) {
            log.debug("desired generation advanced on {}", advanced);
            signal.advanced();
        }
        return advanced;
    }

    /** A pass that must not fail its caller (the change that triggered it is committed already). */
    public void convergeQuietly() {
        try {
            converge();
        } catch (RuntimeException e) {
            log.warn("scheduling pass failed, the next one retries: {}", e.toString());
        }
    }

    private Set<NodeId> converge(Tx tx) throws SQLException {
        settings.lock(tx, LOCK);
        List<Node> allNodes = nodes.list(tx);
        Map<PoolRef, Pool> poolsByRef = pools.listAll(tx).stream().collect(Collectors.toMap(Pool::ref, p -> p));
        Set<NodeId> lost = allNodes.stream().filter(n -> !n.ready()).map(Node::id).collect(Collectors.toSet());
        List<Instance> all = new ArrayList<>();
        for (Instance i : instances.listAll(tx)) {
            // A lost node cannot confirm a destroy, and need not: an agent evicts whatever its (complete)
            // list omits (VMM stopped, data kept aside as an orphan), so the record can go now.
            if (i.desired() == DesiredState.DESTROYED && i.node().map(lost::contains).orElse(false)) {
                instances.delete(tx, i.id());
                log.info("instance {} wanted destroyed on lost node {}: forgotten", i.id(), i.node().get());
            } else {
                all.add(i);
            }
        }

        // Instances on a lost node stay there (offered to nobody) while its grace period lasts,
        // and after it when their data cannot move with them, unless an operator evacuates them.
        Instant now = clock.instant();
        Map<NodeId, Node> nodesById = allNodes.stream().collect(Collectors.toMap(Node::id, n -> n));
        Set<InstanceId> evacuate = instances.evacuationsRequested(tx);
        Map<InstanceId, String> staying = new HashMap<>();
        List<InstanceDemand> demands = new ArrayList<>();
        Map<InstanceId, Instance> byId = new HashMap<>();
        for (Instance i : all) {
            byId.put(i.id(), i);
            Pool pool = poolsByRef.get(i.pool());
            if (i.desired() == DesiredState.DESTROYED || pool == null) {
                continue;
            }
            Node on = i.node().map(nodesById::get).orElse(null);
            if (on != null && !on.ready()) {
                var decision = LostNodeHold.decide(on.id(), liveness.holdUntil(on.lastHeartbeat()), now,
                        pool.onNodeLost(), hasData(pool, i), evacuate.contains(i.id()));
                if (decision instanceof LostNodeHold.Decision.Stay stay) {
                    staying.put(i.id(), stay.reason());
                    continue;
                }
            }
            demands.add(new InstanceDemand(i.id(), i.pool(), demandOf(pool), Map.of(), i.node()));
        }
        List<NodeView> views = allNodes.stream()
                .map(n -> new NodeView(n.id(), new Capacity(n.vcpus(), n.memoryMib(), n.diskMib()),
                        n.ready() ? NodeStatus.READY : NodeStatus.LOST, n.labels()))
                .toList();
        PlacementPlan plan = Placement.place(views, demands);

        for (Map.Entry<InstanceId, String> stay : staying.entrySet()) {
            if (!byId.get(stay.getKey()).pendingReason().equals(Optional.of(stay.getValue()))) {
                instances.setPendingReason(tx, stay.getKey(), Optional.of(stay.getValue()));
            }
        }
        for (PlacementDecision d : plan.decisions()) {
            Instance current = byId.get(d.instance());
            switch (d) {
                case PlacementDecision.Assigned a when a.moved() -> {
                    instances.place(tx, a.instance(), Optional.of(a.node()), InstanceState.PENDING, Optional.empty());
                    byId.put(a.instance(), moved(current, a.node()));
                    current.node().ifPresent(from -> log.info("instance {} moves from {} to {}{}", a.instance(), from,
                            a.node(), evacuate.contains(a.instance()) ? " (evacuated: its data stays behind)" : ""));
                }
                case PlacementDecision.Assigned a -> {
                    if (current.pendingReason().isPresent()) {
                        instances.setPendingReason(tx, a.instance(), Optional.empty());
                    }
                }
                case PlacementDecision.Unplaceable u -> {
                    if (!current.pendingReason().equals(Optional.of(u.reason()))) {
                        instances.setPendingReason(tx, u.instance(), Optional.of(u.reason()));
                    }
                }
            }
        }

        Map<TenantId, Tenant> tenantsById = tenants.list(tx).stream()
                .collect(Collectors.toMap(Tenant::id, Function.identity()));
        Set<InstanceId> waitingForEarlierRoles = heldBack(byId.values(), poolsByRef);
        TemplateAssignments revisions = TemplateAssignments.load(tx, templates);
        revisions.assignNew(tx, byId.values(), poolsByRef);
        var exposures = routes.exposures(tx);
        List<OverlayPeers.Placed> placed = placed(byId.values(), waitingForEarlierRoles, poolsByRef, tenantsById);
        Map<NodeId, Ipv4Address> underlays = underlays(tx);
        Set<NodeId> advanced = new TreeSet<>();
        // Grouped once: asking every node to scan every instance made a pass nodes x instances
        // (about 10^8 steps at 1,000 hosts and 100,000 instances).
        Map<NodeId, List<Instance>> byNode = new HashMap<>();
        for (Instance i : byId.values()) {
            i.node().ifPresent(n -> byNode.computeIfAbsent(n, k -> new ArrayList<>()).add(i));
        }
        for (Node node : allNodes) {
            List<DesiredEntry> entries = desiredFor(node.id(), byNode.getOrDefault(node.id(), List.of()),
                    waitingForEarlierRoles, poolsByRef, tenantsById, revisions, exposures);
            String hash = hash(entries, OverlayPeers.forNode(node.id(), placed, underlays));
            if (!hash.equals(node.desiredHash())) {
                nodes.advanceGeneration(tx, node.id(), node.generation() + 1, hash);
                advanced.add(node.id());
            }
        }
        return advanced;
    }

    /**
     * Whether the instance keeps something on its node that a move would lose: a data disk, or
     * the snapshot of a sleeping instance (its observed state is unknown once the node is lost, so
     * the intent tells).
     */
    private static boolean hasData(Pool pool, Instance i) {
        return pool.dataDiskMib() > 0 || i.desired() == DesiredState.SLEEPING;
    }

    /** The desired list of one node, read fresh (the long-poll answers with this). */
    public List<DesiredEntry> desiredFor(Tx tx, NodeId node) throws SQLException {
        // Only the tenants with instances on this node matter (the role gate is per tenant): reading
        // the whole fleet for every long-poll answer made each agent's poll cost the fleet's size.
        List<Instance> here = instances.listByNode(tx, node);
        Set<TenantId> present = here.stream().map(i -> i.pool().tenant()).collect(Collectors.toCollection(TreeSet::new));
        Map<PoolRef, Pool> poolsByRef = pools.listOf(tx, present).stream()
                .collect(Collectors.toMap(Pool::ref, p -> p));
        Map<TenantId, Tenant> tenantsById = new HashMap<>();
        List<Instance> ofTenants = new ArrayList<>();
        for (TenantId t : present) {
            tenants.find(tx, t).ifPresent(found -> tenantsById.put(t, found));
            ofTenants.addAll(instances.listByTenant(tx, t));
        }
        return desiredFor(node, here, heldBack(ofTenants, poolsByRef), poolsByRef, tenantsById,
                TemplateAssignments.load(tx, templates), routes.exposures(tx));
    }

    /** The instances of the node's tenants on other nodes, read fresh (the long-poll answers with this). */
    public List<OverlayPeers.Peer> peersFor(Tx tx, NodeId node) throws SQLException {
        Map<PoolRef, Pool> poolsByRef = pools.listAll(tx).stream().collect(Collectors.toMap(Pool::ref, p -> p));
        Map<TenantId, Tenant> tenantsById = tenants.list(tx).stream()
                .collect(Collectors.toMap(Tenant::id, Function.identity()));
        List<Instance> all = instances.listAll(tx);
        return OverlayPeers.forNode(node, placed(all, heldBack(all, poolsByRef), poolsByRef, tenantsById), underlays(tx));
    }

    private Map<NodeId, Ipv4Address> underlays(Tx tx) throws SQLException {
        Map<NodeId, Ipv4Address> out = new HashMap<>();
        nodes.underlays(tx).forEach((n, a) -> out.put(n, Ipv4Address.parse(a)));
        return out;
    }

    /**
     * Every instance that has (or is about to get) a port on its node's tenant bridge: placed, not
     * being destroyed, not held back by its roles, of a real tenant (warm standbys have no network).
     */
    private static List<OverlayPeers.Placed> placed(Collection<Instance> all, Set<InstanceId> held,
                                                    Map<PoolRef, Pool> poolsByRef, Map<TenantId, Tenant> tenantsById) {
        List<OverlayPeers.Placed> out = new ArrayList<>();
        for (Instance i : all) {
            Tenant t = tenantsById.get(i.pool().tenant());
            if (i.node().isEmpty() || held.contains(i.id()) || i.desired() == DesiredState.DESTROYED
                    || !poolsByRef.containsKey(i.pool()) || t == null || t.id().standby() || i.ip() == null
                    || i.ip().isEmpty()) {
                continue;
            }
            out.add(new OverlayPeers.Placed(i.id(), t.id(), t.netId(), MacAddress.forInstance(i.id()),
                    Ipv4Address.parse(i.ip()), i.node().get()));
        }
        return out;
    }

    /** Instances whose creation waits for an earlier role of their tenant, fleet-wide ({@link RoleGate}). */
    private static Set<InstanceId> heldBack(Collection<Instance> all, Map<PoolRef, Pool> poolsByRef) {
        List<RoleGate.Member> members = new ArrayList<>();
        for (Instance i : all) {
            Pool p = poolsByRef.get(i.pool());
            if (p != null) {
                members.add(new RoleGate.Member(i.id(), i.pool().tenant(), p.role(), i.desired(), i.state()));
            }
        }
        return RoleGate.heldBack(members);
    }

    private static List<DesiredEntry> desiredFor(NodeId node, Iterable<Instance> candidates, Set<InstanceId> held,
                                                 Map<PoolRef, Pool> poolsByRef, Map<TenantId, Tenant> tenantsById,
                                                 TemplateAssignments revisions,
                                                 Map<Map.Entry<TenantId, io.mvm.model.PoolName>, Exposure> exposures) {
        List<DesiredEntry> out = new ArrayList<>();
        for (Instance i : candidates) {
            if (!i.node().equals(Optional.of(node)) || held.contains(i.id())) {
                continue;
            }
            Pool p = poolsByRef.get(i.pool());
            Tenant t = tenantsById.get(i.pool().tenant());
            if (p == null || t == null) {
                continue;
            }
            out.add(entry(i, p, t, revisions.revisionOf(i.id(), p),
                    exposures.getOrDefault(Map.entry(p.ref().tenant(), p.ref().name()), Exposure.NONE)));
        }
        out.sort((a, b) -> a.id().compareTo(b.id()));
        return out;
    }

    private static DesiredEntry entry(Instance i, Pool p, Tenant t,
                                      Optional<io.mvm.store.template.StoredRevision> pinned, Exposure exposure) {
        var w = p.workload();
        String revision = "r" + p.revision() + p.template().map(tpl -> "-" + tpl).orElse("");
        String templateRevision = pinned.map(r -> r.revisionHash()).orElse(null);
        var artifacts = pinned.map(TemplateAssignments::artifacts).orElse(List.of());
        if (t.id().standby()) {
            // A warm VM standing by: no tenant network (its tap reaches nothing), no workload, no
            // secrets; a claim brings all of them.
            return new DesiredEntry(i.id().value(), t.id().value(), p.ref().name().value(), p.role().wireName(),
                    i.desired().wireName(), p.vcpus(), p.memoryMib(), p.dataDiskMib(), "", 0, "",
                    MacAddress.forInstance(i.id()).value(), 0, List.of(), Map.of(), Map.of(), Map.of(), revision,
                    p.template().orElse(null), templateRevision, artifacts, Exposure.NONE);
        }
        return new DesiredEntry(i.id().value(), t.id().value(), p.ref().name().value(), p.role().wireName(),
                i.desired().wireName(), p.vcpus(), p.memoryMib(), p.dataDiskMib(), i.ip(), t.subnet().prefix(),
                Ipv4.format(new TenantSubnet(t.subnet()).gateway()), MacAddress.forInstance(i.id()).value(),
                t.netId(), w.cmd(), w.env(), w.secrets(), w.configFiles(), revision, p.template().orElse(null),
                templateRevision, artifacts, exposure, w.restartOnExit());
    }

    /** One instance as its node must run it (what a claim hands to the agent), if it is placed. */
    public Optional<DesiredEntry> desiredEntry(Tx tx, InstanceId id) throws SQLException {
        Optional<Instance> found = instances.find(tx, id);
        if (found.isEmpty() || found.get().node().isEmpty()) {
            return Optional.empty();
        }
        Instance i = found.get();
        Optional<Pool> p = pools.find(tx, i.pool());
        Optional<Tenant> t = tenants.find(tx, i.pool().tenant());
        if (p.isEmpty() || t.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(entry(i, p.get(), t.get(), TemplateAssignments.load(tx, templates).revisionOf(i.id(), p.get()),
                routes.exposures(tx).getOrDefault(Map.entry(p.get().ref().tenant(), p.get().ref().name()), Exposure.NONE)));
    }

    static Capacity demandOf(Pool pool) {
        return new Capacity(pool.vcpus(), pool.memoryMib(), pool.dataDiskMib());
    }

    private static Instance moved(Instance i, NodeId node) {
        return new Instance(i.id(), i.pool(), i.desired(), InstanceState.PENDING, Optional.of(node), i.ip(), i.revision(),
                i.lastError(), i.version(), i.createdAt(), i.updatedAt(), i.pid(), i.accelerator(), Optional.empty());
    }

    /**
     * Like {@link #hash(List)}, with the node's peers after the entries; without peers it is the same
     * hash, so nodes whose tenants span no other node keep their generation.
     */
    static String hash(List<DesiredEntry> entries, List<OverlayPeers.Peer> peers) {
        if (peers.isEmpty()) {
            return hash(entries);
        }
        var fingerprint = new StringBuilder(hash(entries));
        for (OverlayPeers.Peer p : peers) {
            fingerprint.append('\n').append(p.instance()).append(' ').append(p.tenant()).append(' ').append(p.netId())
                    .append(' ').append(p.mac()).append(' ').append(p.address()).append(' ').append(p.node())
                    .append(' ').append(p.underlay());
        }
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(fingerprint.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** SHA-256 over a length-prefixed encoding of every field (maps in key order): equal lists, equal hashes. */
    static String hash(List<DesiredEntry> entries) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (DesiredEntry e : entries) {
                e.fingerprint(s -> {
                    byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    digest.update(java.nio.ByteBuffer.allocate(4).putInt(b.length).array());
                    digest.update(b);
                });
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

}
