package io.mvm.coordinator.pool;

import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Caller;
import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.network.Ipv4;
import io.mvm.core.network.TenantSubnet;
import io.mvm.core.pool.DesiredStateAssignment;
import io.mvm.core.pool.PoolMember;
import io.mvm.core.pool.TargetCounts;
import io.mvm.model.InstanceId;
import io.mvm.store.db.Database.RetryTransaction;
import io.mvm.store.db.Tx;
import io.mvm.store.instance.Instance;
import io.mvm.store.instance.InstanceStore;
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.PoolStore;
import io.mvm.store.tenant.Tenant;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Makes a pool's instance records match its counts, inside the caller's transaction (which holds
 * the tenant lock): creates records with fresh addresses, changes desired states as
 * {@link DesiredStateAssignment} decides, and removes the surplus — deleting records that never
 * reached a node and marking the others {@code destroyed} for their agent to confirm.
 */
public final class PoolMaterializer {
    private final InstanceStore instances;
    private final PoolStore pools;
    private final AuditTrail audit;
    private final InstantSource clock;
    private final Supplier<InstanceId> newInstanceId;

    public PoolMaterializer(InstanceStore instances, PoolStore pools, AuditTrail audit, InstantSource clock,
                            Supplier<InstanceId> newInstanceId) {
        this.instances = instances;
        this.pools = pools;
        this.audit = audit;
        this.clock = clock;
        this.newInstanceId = newInstanceId;
    }

    /** Returns how many removed instances are still placed on nodes (marked destroyed, not deleted). */
    public int materialize(Tx tx, Caller caller, Tenant tenant, Pool pool) throws SQLException {
        List<Instance> current = instances.listByPool(tx, pool.ref());
        Map<InstanceId, Instance> live = current.stream()
                .filter(i -> i.desired() != DesiredState.DESTROYED)
                .collect(Collectors.toMap(Instance::id, i -> i));
        List<PoolMember> members = live.values().stream()
                .map(i -> new PoolMember(i.id(), i.desired(), i.state(), i.createdAt()))
                .toList();
        DesiredStateAssignment.Plan plan = DesiredStateAssignment.plan(members, pool.counts());
        Instant now = clock.instant();
        String tenantId = tenant.id().value();

        for (var change : plan.changes().entrySet()) {
            Instance before = live.get(change.getKey());
            Instance after = before.withDesired(change.getValue(), now);
            if (!instances.updateIntent(tx, after, before.version())) {
                throw new RetryTransaction("instance " + before.id() + " changed concurrently");
            }
            audit.changed(tx, caller, tenant.id(), "instance." + change.getValue().wireName(),
                    "instances/" + before.id(), before.version(), after.version());
        }

        int stillPlaced = 0;
        for (InstanceId id : plan.remove()) {
            Instance before = live.get(id);
            if (before.neverPlaced() || instances.placedOnLostNode(tx, id)) {
                instances.delete(tx, id);
                audit.changed(tx, caller, tenant.id(), "instance.delete", "instances/" + id, before.version(), null);
            } else {
                Instance after = before.withDesired(DesiredState.DESTROYED, now);
                if (!instances.updateIntent(tx, after, before.version())) {
                    throw new RetryTransaction("instance " + id + " changed concurrently");
                }
                audit.changed(tx, caller, tenant.id(), "instance.destroy", "instances/" + id, before.version(),
                        after.version());
                stillPlaced++;
            }
        }

        if (!plan.create().isEmpty()) {
            TenantSubnet subnet = new TenantSubnet(tenant.subnet());
            Set<Integer> used = new HashSet<>();
            for (String ip : instances.usedIps(tx, tenant.id())) {
                used.add(Ipv4.parse(ip));
            }
            for (DesiredState desired : plan.create()) {
                int address = subnet.allocateHost(used);
                used.add(address);
                Instance created = Instance.created(newInstanceId.get(), pool.ref(), desired, Ipv4.format(address),
                        pool.revision(), now);
                try {
                    instances.insert(tx, created);
                } catch (SQLException e) {
                    if (tx.dialect().isUniqueViolation(e)) {
                        throw new RetryTransaction("instance insert raced on " + tenantId + ": " + e.getMessage());
                    }
                    throw e;
                }
                audit.changed(tx, caller, tenant.id(), "instance.create", "instances/" + created.id(), null, 1L);
            }
        }
        return stillPlaced;
    }

    /**
     * Scales a pool to zero (used by pool and forced tenant deletion). Returns how many records
     * remain: instances on nodes, marked destroyed now or earlier, that their agents have not yet
     * confirmed. The pool row must outlive them, or the cascade would erase what agents still need.
     */
    public int drain(Tx tx, Caller caller, Tenant tenant, Pool pool) throws SQLException {
        Pool empty = pool.withCounts(new TargetCounts(0, 0, 0, 0), clock.instant());
        if (!pool.counts().equals(empty.counts())) {
            if (!pools.update(tx, empty, pool.version())) {
                throw new RetryTransaction("pool " + pool.ref() + " changed concurrently");
            }
            audit.changed(tx, caller, tenant.id(), "pool.update", "pools/" + pool.ref(), pool.version(), empty.version());
        }
        materialize(tx, caller, tenant, empty);
        return instances.listByPool(tx, pool.ref()).size();
    }
}
