package io.mvm.coordinator.tenant;

import io.mvm.coordinator.ExpectedVersion;
import io.mvm.coordinator.StaleVersionException;
import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.pool.PoolMaterializer;
import io.mvm.coordinator.scheduler.Scheduler;
import io.mvm.core.network.SubnetAllocator;
import io.mvm.core.pool.TargetCounts;
import io.mvm.core.pool.TenantQuota;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import io.mvm.store.db.Database;
import io.mvm.store.db.Database.RetryTransaction;
import io.mvm.store.db.Tx;
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.PoolStore;
import io.mvm.store.tenant.Tenant;
import io.mvm.store.tenant.TenantStore;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;

/** Tenants: creation with a fresh /24, reads, and deletion (refused while instances exist unless forced). */
public final class TenantService {
    private final Database db;
    private final TenantStore tenants;
    private final PoolStore pools;
    private final PoolMaterializer materializer;
    private final SubnetAllocator subnets;
    private final AuditTrail audit;
    private final InstantSource clock;
    private final Scheduler scheduler;

    public TenantService(Database db, TenantStore tenants, PoolStore pools, PoolMaterializer materializer,
                         SubnetAllocator subnets, AuditTrail audit, InstantSource clock, Scheduler scheduler) {
        this.scheduler = scheduler;
        this.db = db;
        this.tenants = tenants;
        this.pools = pools;
        this.materializer = materializer;
        this.subnets = subnets;
        this.audit = audit;
        this.clock = clock;
    }

    public Tenant create(Caller caller, TenantId id, TenantQuota quota) {
        if (id.standby() && !caller.equals(Caller.SYSTEM)) {
            throw MvmException.precondition("tenant id '" + id + "' is reserved for the warm pools");
        }
        return db.inTransaction(tx -> {
            if (tenants.find(tx, id).isPresent()) {
                throw new MvmException(ErrorCategory.ALREADY_EXISTS, "tenant '" + id + "' already exists");
            }
            int netId = subnets.allocate(tenants.usedNetIds(tx));
            Instant now = clock.instant();
            Tenant tenant = new Tenant(id, netId, subnets.subnetOf(netId), quota, 1, now, now);
            try {
                tenants.insert(tx, tenant);
            } catch (SQLException e) {
                if (tx.dialect().isUniqueViolation(e)) {
                    // Another coordinator took this id or net id meanwhile; the retry sees which.
                    throw new RetryTransaction("tenant insert raced: " + e.getMessage());
                }
                throw e;
            }
            audit.changed(tx, caller, id, "tenant.create", "tenants/" + id, null, tenant.version());
            return tenant;
        });
    }

    public Tenant get(TenantId id) {
        return db.read(tx -> require(tx, id));
    }

    public List<Tenant> list() {
        return db.read(tenants::list);
    }

    /** A tenant with its pools, as a list page shows it. */
    public record Listed(Tenant tenant, List<Pool> pools) {}

    /** Up to {@code limit} tenants after {@code after} in id order, each with its pools (two queries a page). */
    public List<Listed> page(java.util.Optional<String> after, int limit) {
        return db.read(tx -> {
            List<Tenant> page = tenants.page(tx, after, limit);
            java.util.Map<TenantId, List<Pool>> byTenant = new java.util.HashMap<>();
            pools.listOf(tx, page.stream().map(Tenant::id).toList())
                    .forEach(p -> byTenant.computeIfAbsent(p.ref().tenant(), k -> new java.util.ArrayList<>()).add(p));
            return page.stream().map(t -> new Listed(t, byTenant.getOrDefault(t.id(), List.of()))).toList();
        });
    }

    /** Up to {@code limit} of the tenant's pools named after {@code after}. */
    public List<Pool> poolsPage(TenantId id, java.util.Optional<String> after, int limit) {
        return db.read(tx -> {
            require(tx, id);
            return pools.page(tx, id, after, limit);
        });
    }

    public List<Pool> pools(TenantId id) {
        return db.read(tx -> {
            require(tx, id);
            return pools.list(tx, id);
        });
    }

    /** What a tenant's pools add up to in quota units. */
    public static TenantQuota.Usage usage(List<Pool> pools) {
        TenantQuota.Usage total = TenantQuota.Usage.NONE;
        for (Pool p : pools) {
            total = total.plus(usageOf(p.vcpus(), p.memoryMib(), p.counts()));
        }
        return total;
    }

    public static TenantQuota.Usage usageOf(int vcpus, long memoryMib, TargetCounts counts) {
        long holding = (long) counts.running() + counts.warm();
        return new TenantQuota.Usage(holding * vcpus, holding * memoryMib, counts.total());
    }

    /**
     * Deletes a tenant. With live instances this is refused unless {@code force}; forcing scales
     * every pool to zero first. Instances already placed on nodes must be confirmed destroyed by
     * their agents before the tenant row can go, so that case is a CONFLICT after marking them.
     */
    public void delete(Caller caller, TenantId id, ExpectedVersion expected, boolean force) {
        if (id.standby()) {
            throw MvmException.precondition("tenant '" + id + "' holds the warm pools; the coordinator manages it");
        }
        try {
            deleteInTransaction(caller, id, expected, force);
        } finally {
            scheduler.convergeQuietly();
        }
    }

    private void deleteInTransaction(Caller caller, TenantId id, ExpectedVersion expected, boolean force) {
        MvmException deferred = db.inTransaction(tx -> {
            Tenant tenant = tenants.lock(tx, id).orElseThrow(() -> notFound(id));
            StaleVersionException.check("tenant '" + id + "'", expected, tenant.version());
            List<Pool> tenantPools = pools.list(tx, id);
            long live = usage(tenantPools).instances();
            if (live > 0 && !force) {
                throw MvmException.conflict("tenant '" + id + "' still has " + live
                        + " instance(s); destroy its pools first or delete with force");
            }
            int stillPlaced = 0;
            for (Pool pool : tenantPools) {
                stillPlaced += materializer.drain(tx, caller, tenant, pool);
            }
            if (stillPlaced > 0) {
                return MvmException.conflict("tenant '" + id + "' has " + stillPlaced + " instance(s) placed on nodes;"
                        + " they are marked destroyed, delete again once their nodes confirm");
            }
            for (Pool pool : pools.list(tx, id)) {
                audit.changed(tx, caller, id, "pool.delete", "pools/" + pool.ref(), pool.version(), null);
            }
            tenants.delete(tx, id);
            audit.changed(tx, caller, id, "tenant.delete", "tenants/" + id, tenant.version(), null);
            return null;
        });
        if (deferred != null) {
            throw deferred;
        }
    }

    static MvmException notFound(TenantId id) {
        return MvmException.notFound("tenant '" + id + "' not found");
    }

    public Tenant require(Tx tx, TenantId id) throws SQLException {
        return tenants.find(tx, id).orElseThrow(() -> notFound(id));
    }
}
