package io.mvm.coordinator.instance;

import io.mvm.coordinator.ExpectedVersion;
import io.mvm.coordinator.StaleVersionException;
import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.scheduler.Scheduler;
import io.mvm.coordinator.tenant.TenantService;
import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.lifecycle.InstanceAction;
import io.mvm.core.lifecycle.InstanceLifecycle;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.PoolName;
import io.mvm.model.TenantId;
import io.mvm.store.db.Database;
import io.mvm.store.db.Database.RetryTransaction;
import io.mvm.store.instance.Instance;
import io.mvm.store.instance.InstanceStore;
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.PoolStore;
import io.mvm.store.tenant.Tenant;
import io.mvm.store.tenant.TenantStore;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Per-instance intent. An action moves one instance and its pool's counts together in one
 * transaction, so the pool and its instances never disagree (and a later materialization does
 * not undo the action).
 */
public final class InstanceService {
    private final Database db;
    private final TenantStore tenants;
    private final PoolStore pools;
    private final InstanceStore instances;
    private final AuditTrail audit;
    private final InstantSource clock;
    private final Scheduler scheduler;

    public InstanceService(Database db, TenantStore tenants, PoolStore pools, InstanceStore instances, AuditTrail audit,
                           InstantSource clock, Scheduler scheduler) {
        this.scheduler = scheduler;
        this.db = db;
        this.tenants = tenants;
        this.pools = pools;
        this.instances = instances;
        this.audit = audit;
        this.clock = clock;
    }

    public Instance get(InstanceId id) {
        return db.read(tx -> instances.find(tx, id).orElseThrow(() -> notFound(id)));
    }

    /** Up to {@code limit} of the tenant's instances matching {@code filter}, with ids after {@code after}. */
    public List<Instance> page(TenantId tenant, InstanceStore.Filter filter, Optional<String> after, int limit) {
        return db.read(tx -> {
            tenants.find(tx, tenant).orElseThrow(() -> MvmException.notFound("tenant '" + tenant + "' not found"));
            return instances.page(tx, tenant, filter, after, limit);
        });
    }

    public List<Instance> list(TenantId tenant, Optional<PoolName> pool) {
        return db.read(tx -> {
            tenants.find(tx, tenant).orElseThrow(() -> MvmException.notFound("tenant '" + tenant + "' not found"));
            List<Instance> all = instances.listByTenant(tx, tenant);
            return pool.map(p -> all.stream().filter(i -> i.pool().name().equals(p)).toList()).orElse(all);
        });
    }

    public Instance act(Caller caller, InstanceId id, InstanceAction action) {
        Instance after = actInTransaction(caller, id, action);
        scheduler.convergeQuietly();
        return after;
    }

    private Instance actInTransaction(Caller caller, InstanceId id, InstanceAction action) {
        TenantId tenantId = get(id).pool().tenant();
        return db.inTransaction(tx -> {
            Tenant tenant = tenants.lock(tx, tenantId).orElseThrow(() -> notFound(id));
            Instance current = instances.find(tx, id).orElseThrow(() -> notFound(id));
            DesiredState next = InstanceLifecycle.apply(action, current.desired(), current.state());
            if (next == current.desired()) {
                return current;
            }
            Pool pool = pools.find(tx, current.pool()).orElseThrow(() -> notFound(id));
            Pool moved = withCounts(pool, pool.counts().move(current.desired(), next), clock.instant());
            checkQuota(tx, tenant, pool, moved);
            Instance after = current.withDesired(next, clock.instant());
            if (!instances.updateIntent(tx, after, current.version()) || !pools.update(tx, moved, pool.version())) {
                throw new RetryTransaction("instance " + id + " or its pool changed concurrently");
            }
            audit.changed(tx, caller, tenantId, "instance." + action.wireName(), "instances/" + id, current.version(),
                    after.version());
            audit.changed(tx, caller, tenantId, "pool.update", "pools/" + pool.ref(), pool.version(), moved.version());
            return after;
        });
    }

    /**
     * Asks for an instance on a lost node to be recreated on another node now, without waiting
     * for the node's grace period or its pool's {@code on_node_lost} rule. Its data disk and
     * snapshot stay behind on the lost node (whose agent keeps them aside when it returns).
     */
    public Instance evacuate(Caller caller, InstanceId id) {
        TenantId tenantId = get(id).pool().tenant();
        db.inTransaction(tx -> {
            tenants.lock(tx, tenantId).orElseThrow(() -> notFound(id));
            Instance current = instances.find(tx, id).orElseThrow(() -> notFound(id));
            if (current.desired() == DesiredState.DESTROYED) {
                throw MvmException.conflict("instance '" + id + "' is being destroyed");
            }
            if (!instances.placedOnLostNode(tx, id)) {
                throw MvmException.precondition("instance '" + id + "' is "
                        + current.node().map(n -> "on node " + n + ", which is not lost").orElse("on no node")
                        + ": evacuate only moves instances off a lost node");
            }
            instances.requestEvacuation(tx, id, clock.instant());
            audit.changed(tx, caller, tenantId, "instance.evacuate", "instances/" + id, current.version(),
                    current.version());
            return null;
        });
        scheduler.convergeQuietly();
        return get(id);
    }

    /**
     * Destroys one instance and takes it out of its pool's counts. A never-placed record is
     * deleted at once (true); a placed one is marked destroyed for its agent (false).
     */
    public boolean destroy(Caller caller, InstanceId id, ExpectedVersion expected) {
        boolean deleted = destroyInTransaction(caller, id, expected);
        scheduler.convergeQuietly();
        return deleted;
    }

    private boolean destroyInTransaction(Caller caller, InstanceId id, ExpectedVersion expected) {
        TenantId tenantId = get(id).pool().tenant();
        return db.inTransaction(tx -> {
            tenants.lock(tx, tenantId).orElseThrow(() -> notFound(id));
            Instance current = instances.find(tx, id).orElseThrow(() -> notFound(id));
            StaleVersionException.check("instance '" + id + "'", expected, current.version());
            if (current.desired() == DesiredState.DESTROYED) {
                return false;
            }
            Pool pool = pools.find(tx, current.pool()).orElseThrow(() -> notFound(id));
            Instant now = clock.instant();
            Pool shrunk = withCounts(pool, pool.counts().minus(current.desired()), now);
            if (!pools.update(tx, shrunk, pool.version())) {
                throw new RetryTransaction("pool " + pool.ref() + " changed concurrently");
            }
            audit.changed(tx, caller, tenantId, "pool.update", "pools/" + pool.ref(), pool.version(), shrunk.version());
            if (current.neverPlaced() || instances.placedOnLostNode(tx, id)) {
                instances.delete(tx, id);
                audit.changed(tx, caller, tenantId, "instance.delete", "instances/" + id, current.version(), null);
                return true;
            }
            Instance after = current.withDesired(DesiredState.DESTROYED, now);
            if (!instances.updateIntent(tx, after, current.version())) {
                throw new RetryTransaction("instance " + id + " changed concurrently");
            }
            audit.changed(tx, caller, tenantId, "instance.destroy", "instances/" + id, current.version(), after.version());
            return false;
        });
    }

    private void checkQuota(io.mvm.store.db.Tx tx, Tenant tenant, Pool before, Pool after) throws java.sql.SQLException {
        List<Pool> all = new ArrayList<>(pools.list(tx, tenant.id()));
        var usageBefore = TenantService.usage(all);
        all.replaceAll(p -> p.ref().equals(before.ref()) ? after : p);
        tenant.quota().check(usageBefore, TenantService.usage(all));
    }

    private static Pool withCounts(Pool p, io.mvm.core.pool.TargetCounts counts, Instant now) {
        return p.withCounts(counts, now);
    }

    private static MvmException notFound(InstanceId id) {
        return MvmException.notFound("instance '" + id + "' not found");
    }
}
