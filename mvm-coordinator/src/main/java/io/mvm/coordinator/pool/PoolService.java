package io.mvm.coordinator.pool;

import io.mvm.coordinator.ExpectedVersion;
import io.mvm.coordinator.StaleVersionException;
import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.scheduler.Scheduler;
import io.mvm.coordinator.template.TemplateService;
import io.mvm.store.template.TemplateRegistryStore;
import io.mvm.coordinator.tenant.TenantService;
import io.mvm.core.pool.TargetCounts;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.model.PoolRef;
import io.mvm.store.db.Database;
import io.mvm.store.db.Database.RetryTransaction;
import io.mvm.store.db.Tx;
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.PoolStore;
import io.mvm.store.pool.Workload;
import io.mvm.store.tenant.Tenant;
import io.mvm.store.tenant.TenantStore;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import io.mvm.core.scale.Exposure;
import io.mvm.core.scale.IdlePolicy;
import io.mvm.core.scale.PortMapping;

/**
 * Pools: every change runs in one transaction that holds the tenant lock, checks the quota on the
 * tenant's resulting usage, writes the pool and materializes its instance records.
 */
public final class PoolService {
    private final Database db;
    private final TenantStore tenants;
    private final PoolStore pools;
    private final PoolMaterializer materializer;
    private final AuditTrail audit;
    private final InstantSource clock;
    private final Scheduler scheduler;
    private final TemplateRegistryStore templates = new TemplateRegistryStore();
    private final io.mvm.store.route.RouteStore routes = new io.mvm.store.route.RouteStore();
    private final io.mvm.store.instance.InstanceStore instanceStore = new io.mvm.store.instance.InstanceStore();

    public PoolService(Database db, TenantStore tenants, PoolStore pools, PoolMaterializer materializer, AuditTrail audit,
                       InstantSource clock, Scheduler scheduler) {
        this.scheduler = scheduler;
        this.db = db;
        this.tenants = tenants;
        this.pools = pools;
        this.materializer = materializer;
        this.audit = audit;
        this.clock = clock;
    }

    public Pool create(Caller caller, PoolSpec spec) {
        refuseStandby(spec.ref());
        if (spec.ref().name().value().startsWith("vm-")) {
            throw MvmException.invalid("pool names starting with 'vm-' are reserved for /vms jobs");
        }
        Pool created = createInTransaction(caller, spec);
        scheduler.convergeQuietly();
        return created;
    }

    private Pool createInTransaction(Caller caller, PoolSpec spec) {
        return db.inTransaction(tx -> createIn(tx, caller, spec));
    }

    /**
     * Creates a pool inside the caller's transaction (for features that own pools, such as
     * {@code /vms} jobs); the caller runs a scheduling pass after committing.
     */
    public Pool createIn(Tx tx, Caller caller, PoolSpec spec) throws SQLException {
        {
            Tenant tenant = lockTenant(tx, spec.ref());
            if (spec.template().isPresent()) {
                TemplateService.requireBootable(tx, templates, spec.template().get());
            }
            if (pools.find(tx, spec.ref()).isPresent()) {
                throw new MvmException(ErrorCategory.ALREADY_EXISTS, "pool '" + spec.ref() + "' already exists");
            }
            List<Pool> existing = pools.list(tx, spec.ref().tenant());
            var before = TenantService.usage(existing);
            var after = before.plus(TenantService.usageOf(spec.vcpus(), spec.memoryMib(), spec.counts()));
            tenant.quota().check(before, after);
            Instant now = clock.instant();
            Pool pool = new Pool(spec.ref(), spec.role(), spec.profile(), spec.flake(), spec.template(), spec.vcpus(),
                    spec.memoryMib(), spec.dataDiskMib(), spec.counts(), 1, 1, now, now, spec.workload(), spec.onNodeLost());
            try {
                pools.insert(tx, pool);
            } catch (SQLException e) {
                if (tx.dialect().isUniqueViolation(e)) {
                    throw new RetryTransaction("pool insert raced: " + e.getMessage());
                }
                throw e;
            }
            audit.changed(tx, caller, spec.ref().tenant(), "pool.create", "pools/" + spec.ref(), null, pool.version());
            materializer.materialize(tx, caller, tenant, pool);
            return pool;
        }
    }

    /**
     * Creates a pool with its exposure (ports and idle policy, issue 13) in one transaction.
     */
    public Pool create(Caller caller, PoolSpec spec, Exposure exposure) {
        if (spec.ref().name().value().startsWith("vm-")) {
            throw MvmException.invalid("pool names starting with 'vm-' are reserved for /vms jobs");
        }
        Pool created = db.inTransaction(tx -> {
            Pool p = createIn(tx, caller, spec);
            routes.putExposure(tx, spec.ref().tenant(), spec.ref().name(), exposure);
            return p;
        });
        scheduler.convergeQuietly();
        return created;
    }

    /**
     * Patches a pool and, when given, replaces its ports and/or idle policy, in one transaction; the
     * nodes' desired lists change with it, so a policy change reaches the agents without restarts.
     */
    public Pool patch(Caller caller, PoolRef ref, PoolPatch patch, ExpectedVersion expected,
                      Optional<List<PortMapping>> ports, Optional<Optional<IdlePolicy>> idle) {
        Pool patched = db.inTransaction(tx -> {
            Pool p = patchIn(tx, caller, ref, patch, expected);
            if (ports.isPresent() || idle.isPresent()) {
                Exposure current = routes.exposure(tx, ref.tenant(), ref.name());
                routes.putExposure(tx, ref.tenant(), ref.name(),
                        new Exposure(ports.orElse(current.ports()), idle.orElse(current.idle())));
            }
            return p;
        });
        scheduler.convergeQuietly();
        return patched;
    }

    /**
     * A pool's exposure and how its instances wanted running stand: {@code running} really run,
     * {@code idled} were idled to warm or sleeping by the idle policy (available, woken on demand).
     */
    public record Scale(Exposure exposure, int running, int idled) {
        public static final Scale NONE = new Scale(Exposure.NONE, 0, 0);
    }

    public Scale scale(PoolRef ref) {
        return db.read(tx -> scaleIn(tx, ref));
    }

    /** Replaces a pool's exposure inside the caller's transaction (for {@code /vms} jobs). */
    public void exposeIn(Tx tx, PoolRef ref, Exposure exposure) throws SQLException {
        routes.putExposure(tx, ref.tenant(), ref.name(), exposure);
    }

    private Scale scaleIn(Tx tx, PoolRef ref) throws SQLException {
        Exposure exposure = routes.exposure(tx, ref.tenant(), ref.name());
        int running = 0;
        int idled = 0;
        for (var i : instanceStore.listByPool(tx, ref)) {
            if (i.desired() != io.mvm.core.lifecycle.DesiredState.RUNNING) {
                continue;
            }
            switch (i.state()) {
                case RUNNING -> running++;
                // Wanted running but warm or sleeping: only the idle policy does that.
                case WARM, SLEEPING, PAUSING, SNAPSHOTTING -> idled += exposure.idle().isPresent() ? 1 : 0;
                default -> { }
            }
        }
        return new Scale(exposure, running, idled);
    }

    public Pool get(PoolRef ref) {
        return db.read(tx -> {
            requireTenant(tx, ref);
            return require(tx, ref);
        });
    }

    public Pool patch(Caller caller, PoolRef ref, PoolPatch patch, ExpectedVersion expected) {
        refuseStandby(ref);
        Pool patched = patchInTransaction(caller, ref, patch, expected);
        scheduler.convergeQuietly();
        return patched;
    }

    private Pool patchInTransaction(Caller caller, PoolRef ref, PoolPatch patch, ExpectedVersion expected) {
        return db.inTransaction(tx -> patchIn(tx, caller, ref, patch, expected));
    }

    /** Patches a pool inside the caller's transaction; the caller runs a scheduling pass after committing. */
    public Pool patchIn(Tx tx, Caller caller, PoolRef ref, PoolPatch patch, ExpectedVersion expected)
            throws SQLException {
        {
            Tenant tenant = lockTenant(tx, ref);
            Pool current = require(tx, ref);
            StaleVersionException.check("pool '" + ref + "'", expected, current.version());
            patch.role().ifPresent(role -> {
                if (role != current.role()) {
                    throw MvmException.conflict("the role of pool '" + ref + "' is " + current.role()
                            + " and cannot be changed; create a new pool with role " + role);
                }
            });
            TargetCounts counts = new TargetCounts(patch.running().orElse(current.counts().running()),
                    patch.warm().orElse(current.counts().warm()), patch.sleeping().orElse(current.counts().sleeping()),
                    patch.stopped().orElse(current.counts().stopped()));
            int vcpus = patch.vcpus().orElse(current.vcpus());
            long memory = patch.memoryMib().orElse(current.memoryMib());
            long disk = patch.dataDiskMib().orElse(current.dataDiskMib());
            var template = patch.template().isPresent()
                    ? patch.template().filter(t -> !t.isEmpty())
                    : current.template();
            template.ifPresent(t -> PoolSpec.requireName("template", t));
            if (template.isPresent() && !template.equals(current.template())) {
                TemplateService.requireBootable(tx, templates, template.get());
            }
            PoolSpec.checkResources(vcpus, memory, disk);
            PoolSpec.checkCounts(counts);
            Workload cw = current.workload();
            Workload workload = new Workload(patch.cmd().orElse(cw.cmd()), patch.env().orElse(cw.env()),
                    patch.secrets().orElse(cw.secrets()), patch.configFiles().orElse(cw.configFiles()),
                    patch.restartWorkload().orElse(cw.restartOnExit()));
            PoolSpec.checkWorkload(workload);
            boolean specChanged = vcpus != current.vcpus() || memory != current.memoryMib()
                    || disk != current.dataDiskMib() || !template.equals(current.template())
                    || !workload.equals(cw);
            Pool next = new Pool(ref, current.role(), current.profile(), current.flake(), template, vcpus, memory, disk,
                    counts, current.revision() + (specChanged ? 1 : 0), current.version() + 1, current.createdAt(),
                    clock.instant(), workload, patch.onNodeLost().orElse(current.onNodeLost()));
            if (next.counts().equals(current.counts()) && !specChanged && next.onNodeLost() == current.onNodeLost()) {
                return current;
            }
            List<Pool> others = new ArrayList<>(pools.list(tx, ref.tenant()));
            var before = TenantService.usage(others);
            others.replaceAll(p -> p.ref().equals(ref) ? next : p);
            tenant.quota().check(before, TenantService.usage(others));
            if (!pools.update(tx, next, current.version())) {
                throw new RetryTransaction("pool " + ref + " changed concurrently");
            }
            audit.changed(tx, caller, ref.tenant(), "pool.update", "pools/" + ref, current.version(), next.version());
            materializer.materialize(tx, caller, tenant, next);
            return next;
        }
    }

    public void delete(Caller caller, PoolRef ref, ExpectedVersion expected) {
        refuseStandby(ref);
        try {
            deleteInTransaction(caller, ref, expected);
        } finally {
            scheduler.convergeQuietly();
        }
    }

    private void deleteInTransaction(Caller caller, PoolRef ref, ExpectedVersion expected) {
        MvmException deferred = db.inTransaction(tx -> {
            int stillPlaced = deleteIn(tx, caller, ref, expected);
            return stillPlaced == 0 ? null
                    : MvmException.conflict("pool '" + ref + "' has " + stillPlaced + " instance(s) placed on nodes;"
                            + " they are marked destroyed, delete again once their nodes confirm");
        });
        if (deferred != null) {
            throw deferred;
        }
    }

    /**
     * Drains a pool and deletes it inside the caller's transaction when none of its instances is
     * still placed on a node; returns how many are (then the pool stays, its instances marked
     * destroyed, until their nodes confirm).
     */
    public int deleteIn(Tx tx, Caller caller, PoolRef ref, ExpectedVersion expected) throws SQLException {
        Tenant tenant = lockTenant(tx, ref);
        Pool current = require(tx, ref);
        StaleVersionException.check("pool '" + ref + "'", expected, current.version());
        int stillPlaced = materializer.drain(tx, caller, tenant, current);
        if (stillPlaced == 0) {
            pools.delete(tx, ref);
            audit.changed(tx, caller, ref.tenant(), "pool.delete", "pools/" + ref, current.version(), null);
        }
        return stillPlaced;
    }

    /** The warm pools' tenant is the coordinator's own: sized from /vms specs, never by hand. */
    private static void refuseStandby(PoolRef ref) {
        if (ref.tenant().standby()) {
            throw MvmException.precondition("tenant '" + ref.tenant() + "' holds the warm pools of /vms specs; the"
                    + " coordinator manages its pools (change a spec's warm_pool instead)");
        }
    }

    private Tenant lockTenant(Tx tx, PoolRef ref) throws SQLException {
        return tenants.lock(tx, ref.tenant())
                .orElseThrow(() -> MvmException.notFound("tenant '" + ref.tenant() + "' not found"));
    }

    private void requireTenant(Tx tx, PoolRef ref) throws SQLException {
        tenants.find(tx, ref.tenant()).orElseThrow(() -> MvmException.notFound("tenant '" + ref.tenant() + "' not found"));
    }

    Pool require(Tx tx, PoolRef ref) throws SQLException {
        return pools.find(tx, ref).orElseThrow(() -> MvmException.notFound("pool '" + ref + "' not found"));
    }
}
