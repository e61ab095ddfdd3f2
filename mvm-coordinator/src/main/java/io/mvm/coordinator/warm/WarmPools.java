package io.mvm.coordinator.warm;

import io.mvm.coordinator.ExpectedVersion;
import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.pool.PoolMaterializer;
import io.mvm.coordinator.pool.PoolPatch;
import io.mvm.coordinator.pool.PoolService;
import io.mvm.coordinator.pool.PoolSpec;
import io.mvm.coordinator.tenant.TenantService;
import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.liveness.OnNodeLost;
import io.mvm.core.pool.TargetCounts;
import io.mvm.core.pool.TenantQuota;
import io.mvm.core.vms.WarmPoolPlan;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.model.PoolName;
import io.mvm.model.PoolRef;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.store.db.Database;
import io.mvm.store.db.Database.RetryTransaction;
import io.mvm.store.db.Tx;
import io.mvm.store.instance.Instance;
import io.mvm.store.instance.InstanceStore;
import io.mvm.store.node.NodeStore;
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.PoolStore;
import io.mvm.store.pool.Workload;
import io.mvm.store.tenant.Tenant;
import io.mvm.store.tenant.TenantStore;
import io.mvm.store.vm.VmJob;
import io.mvm.store.vm.VmJobStore;
import java.sql.SQLException;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warm pools of {@code /vms} specs: for every spec hash some job wants warm, a pool of the
 * reserved tenant {@link TenantId#STANDBY} ({@code warm-<hash>}) keeps that many VMs booted and
 * paused, belonging to no tenant. The scheduler places them like any instance and agents boot them
 * standing by (docs/api.md, "Warm pools"). A claim moves one such instance, in the claiming
 * transaction, into the job's pool; the warm pool then materializes a replacement, which refills it.
 */
public final class WarmPools {
    private final io.mvm.coordinator.leader.Leadership leadership;
    private static final Logger log = LoggerFactory.getLogger(WarmPools.class);
    public static final String POOL_PREFIX = "warm-";

    private final Database db;
    private final VmJobStore jobs;
    private final TenantStore tenants;
    private final PoolStore pools;
    private final InstanceStore instances;
    private final NodeStore nodes;
    private final TenantService tenantService;
    private final PoolService poolService;
    private final PoolMaterializer materializer;
    private final AuditTrail audit;
    private final WarmPoolPlan.Budget budget;
    private final InstantSource clock;

    public WarmPools(Database db, VmJobStore jobs, TenantStore tenants, PoolStore pools, InstanceStore instances,
                     NodeStore nodes, TenantService tenantService, PoolService poolService,
                     PoolMaterializer materializer, AuditTrail audit, WarmPoolPlan.Budget budget, InstantSource clock,
                     io.mvm.coordinator.leader.Leadership leadership) {
        this.leadership = leadership;
        this.db = db;
        this.jobs = jobs;
        this.tenants = tenants;
        this.pools = pools;
        this.instances = instances;
        this.nodes = nodes;
        this.tenantService = tenantService;
        this.poolService = poolService;
        this.materializer = materializer;
        this.audit = audit;
        this.budget = budget;
        this.clock = clock;
    }

    public static PoolName poolName(String specHash) {
        return PoolName.of(POOL_PREFIX + specHash.substring(0, Math.min(24, specHash.length())));
    }

    public static PoolRef poolRef(String specHash) {
        return new PoolRef(TenantId.STANDBY, poolName(specHash));
    }

    /**
     * Makes the warm pools match what the jobs ask for, within the warm budget: pools created,
     * resized, and removed when no job wants them any more. Returns the plan applied.
     */
    public List<WarmPoolPlan.Target> sync() {
        boolean anyWarm = db.read(tx -> jobs.list(tx).stream().anyMatch(j -> j.spec().warmPool().min() > 0)
                || tenants.find(tx, TenantId.STANDBY).isPresent());
        if (!anyWarm) {
            return List.of(); // no warm pool was ever asked for: not even the standby tenant exists
        }
        ensureStandbyTenant();
        return db.inTransaction(tx -> {
            tenants.lock(tx, TenantId.STANDBY).orElseThrow(() -> MvmException.internal("no standby tenant", null));
            Map<String, VmJob> sample = new HashMap<>();
            List<WarmPoolPlan.Want> wants = new ArrayList<>();
            for (VmJob j : jobs.list(tx)) {
                var w = j.spec().warmPool();
                if (w.min() > 0) {
                    wants.add(new WarmPoolPlan.Want(j.specHash(), w.min(), w.max(), j.spec().resources().vcpu(),
                            j.spec().resources().memMb()));
                    sample.putIfAbsent(j.specHash(), j);
                }
            }
            List<WarmPoolPlan.Target> plan = WarmPoolPlan.plan(wants, budget);
            Map<PoolName, WarmPoolPlan.Target> wanted = new HashMap<>();
            plan.forEach(t -> wanted.put(poolName(t.specHash()), t));
            // Shrink and remove first, so the budget's room is free before anything grows.
            for (Pool p : pools.list(tx, TenantId.STANDBY)) {
                WarmPoolPlan.Target t = wanted.get(p.ref().name());
                if (t == null) {
                    poolService.deleteIn(tx, Caller.SYSTEM, p.ref(), ExpectedVersion.ANY);
                } else if (t.size() < p.counts().warm()) {
                    resize(tx, p, t.size());
                }
            }
            for (WarmPoolPlan.Target t : plan) {
                Optional<Pool> existing = pools.find(tx, poolRef(t.specHash()));
                if (existing.isEmpty()) {
                    VmJob j = sample.get(t.specHash());
                    poolService.createIn(tx, Caller.SYSTEM, new PoolSpec(poolRef(t.specHash()), Role.WORKER, "default",
                            ".", Optional.ofNullable(j.spec().template()), t.vcpus(), t.memoryMib(), 0,
                            new TargetCounts(0, t.size(), 0, 0), new Workload(List.of(), Map.of(), Map.of(), Map.of()),
                            OnNodeLost.RECREATE));
                } else if (existing.get().counts().warm() != t.size()) {
                    resize(tx, existing.get(), t.size());
                }
                if (t.cutByBudget()) {
                    log.warn("warm pool {} keeps {} of the {} warm VMs asked for: the warm budget ({} vCPUs, {} MiB)"
                            + " is used up", poolName(t.specHash()), t.size(), t.wanted(), budget.vcpus(),
                            budget.memoryMib());
                }
            }
            return plan;
        });
    }

    /** {@link #sync()} that never throws (after a job change, and from housekeeping). */
    public void syncQuietly() {
        try {
            // Refill is a singleton loop: only the leader sizes warm pools, fenced by its epoch.
            leadership.runAsLeader(this::sync);
        } catch (RuntimeException e) {
            log.warn("could not size the warm pools, retrying later: {}", e.toString());
        }
    }

    private void resize(Tx tx, Pool p, int warm) throws SQLException {
        poolService.patchIn(tx, Caller.SYSTEM, p.ref(), PoolPatch.counts(new TargetCounts(0, warm, 0, 0)),
                ExpectedVersion.ANY);
    }

    private void ensureStandbyTenant() {
        if (db.read(tx -> tenants.find(tx, TenantId.STANDBY)).isPresent()) {
            return;
        }
        try {
            // Its quota is the warm budget: warm VMs count against it, against no tenant's.
            tenantService.create(Caller.SYSTEM, TenantId.STANDBY,
                    new TenantQuota(budget.vcpus(), budget.memoryMib(), 4096));
        } catch (MvmException e) {
            if (e.category() != ErrorCategory.ALREADY_EXISTS) {
                throw e;
            }
        }
    }

    /** A warm VM handed to a job: the instance (now in the job's pool) and the node that holds it. */
    public record Claim(Instance instance, String specHash) {}

    /**
     * Inside the caller's transaction (holding the job tenant's lock): if a warm VM of this spec is
     * paused on a ready node, moves it into {@code into} in place of the instance the job's pool has
     * just made (which never reached a node), and lets the warm pool make its replacement.
     */
    public Optional<Claim> claimIn(Tx tx, Caller caller, String specHash, Pool into) throws SQLException {
        PoolRef warmRef = poolRef(specHash);
        Optional<Pool> warmPool = pools.find(tx, warmRef);
        if (warmPool.isEmpty()) {
            return Optional.empty();
        }
        Optional<Instance> fresh = instances.listByPool(tx, into.ref()).stream()
                .filter(i -> i.desired() != DesiredState.DESTROYED && i.neverPlaced()).findFirst();
        if (fresh.isEmpty()) {
            return Optional.empty();
        }
        List<Instance> candidates = new ArrayList<>();
        for (Instance i : instances.listByPool(tx, warmRef)) {
            if (i.desired() == DesiredState.WARM && i.state() == InstanceState.WARM && i.node().isPresent()
                    && nodes.find(tx, i.node().get()).map(n -> n.ready()).orElse(false)) {
                candidates.add(i);
            }
        }
        if (candidates.isEmpty()) {
            return Optional.empty();
        }
        candidates.sort(Comparator.comparing(Instance::createdAt).thenComparing(i -> i.id().value()));
        Instance warm = candidates.getFirst();
        Instance placeholder = fresh.get();
        // The job's pool allocated an address in its tenant for the instance it made: the claimed
        // VM takes that address, and the placeholder, never placed anywhere, goes.
        instances.delete(tx, placeholder.id());
        var now = clock.instant();
        if (!instances.adopt(tx, warm.id(), into.ref(), placeholder.ip(), DesiredState.RUNNING, into.revision(),
                warm.version(), now)) {
            throw new RetryTransaction("warm instance " + warm.id() + " was claimed concurrently");
        }
        audit.changed(tx, caller, into.ref().tenant(), "instance.claim", "instances/" + warm.id(), warm.version(),
                warm.version() + 1);
        Tenant standby = tenants.lock(tx, TenantId.STANDBY)
                .orElseThrow(() -> MvmException.internal("no standby tenant", null));
        materializer.materialize(tx, Caller.SYSTEM, standby, warmPool.get());
        Instance claimed = instances.find(tx, warm.id()).orElseThrow();
        return Optional.of(new Claim(claimed, specHash));
    }

    /** One warm VM as {@code /stats} shows it. */
    public record WarmVm(String specHash, InstanceId vmId, String status, Optional<String> node) {}

    public List<WarmVm> list() {
        return db.read(tx -> {
            List<WarmVm> out = new ArrayList<>();
            if (tenants.find(tx, TenantId.STANDBY).isEmpty()) {
                return out;
            }
            for (Pool p : pools.list(tx, TenantId.STANDBY)) {
                String hashPrefix = p.ref().name().value().substring(POOL_PREFIX.length());
                for (Instance i : instances.listByPool(tx, p.ref())) {
                    if (i.desired() != DesiredState.DESTROYED) {
                        out.add(new WarmVm(hashPrefix, i.id(), i.state().wireName(), i.node().map(Object::toString)));
                    }
                }
            }
            return out;
        });
    }
}
