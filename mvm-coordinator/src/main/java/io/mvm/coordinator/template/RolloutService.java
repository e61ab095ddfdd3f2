package io.mvm.coordinator.template;

import io.mvm.coordinator.UnprocessableException;
import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.scheduler.Scheduler;
import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.network.Ipv4;
import io.mvm.core.network.TenantSubnet;
import io.mvm.core.rollout.RolloutPlanner;
import io.mvm.core.rollout.RolloutPlanner.Decision;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.PoolRef;
import io.mvm.store.db.Database;
import io.mvm.store.db.Database.RetryTransaction;
import io.mvm.store.db.Tx;
import io.mvm.store.instance.Instance;
import io.mvm.store.instance.InstanceStore;
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.PoolStore;
import io.mvm.store.template.PoolRollout;
import io.mvm.store.template.StoredTemplate;
import io.mvm.store.template.TemplateRegistryStore;
import io.mvm.store.template.TemplateRegistryStore.InstanceRevision;
import io.mvm.store.tenant.Tenant;
import io.mvm.store.tenant.TenantStore;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rolls templated pools onto their target revision (the revision a pool is pinned to, else its
 * template's current one): each step asks {@link RolloutPlanner} and carries the decision out in
 * the pool's tenant lock — a replacement is a new instance pinned to the target beside the old one
 * marked destroyed (or deleted when it never reached a node). Runs from housekeeping and after a
 * change of target; {@code set-template} pins a revision, {@code rollback} returns to the previous one.
 */
public final class RolloutService {
    private final io.mvm.coordinator.leader.Leadership leadership;
    private static final Logger log = LoggerFactory.getLogger(RolloutService.class);
    public static final Duration DEFAULT_HEALTH_TIMEOUT = Duration.ofMinutes(5);

    private final Database db;
    private final TenantStore tenants;
    private final PoolStore pools;
    private final InstanceStore instances;
    private final TemplateRegistryStore store;
    private final AuditTrail audit;
    private final InstantSource clock;
    private final Scheduler scheduler;
    private final Supplier<InstanceId> newInstanceId;
    private final Duration healthTimeout;

    public RolloutService(Database db, TenantStore tenants, PoolStore pools, InstanceStore instances,
                          TemplateRegistryStore store, AuditTrail audit, InstantSource clock, Scheduler scheduler,
                          Supplier<InstanceId> newInstanceId, Duration healthTimeout,
                          io.mvm.coordinator.leader.Leadership leadership) {
        this.leadership = leadership;
        this.db = db;
        this.tenants = tenants;
        this.pools = pools;
        this.instances = instances;
        this.store = store;
        this.audit = audit;
        this.clock = clock;
        this.scheduler = scheduler;
        this.newInstanceId = newInstanceId;
        this.healthTimeout = healthTimeout;
    }

    /** A pool's rollout as shown: its state and where its instances are. */
    public record Progress(PoolRollout rollout, Optional<String> target, int onTarget, int old, List<String> pending,
                           int total) {}

    /** One step for every templated pool, if this coordinator leads (rollouts are a singleton loop). */
    public void stepAll() {
        leadership.runAsLeader(this::stepAllAsLeader);
    }

    private void stepAllAsLeader() {
        List<PoolRef> refs = db.read(tx -> pools.listAll(tx).stream().filter(p -> p.template().isPresent())
                .map(Pool::ref).toList());
        boolean replaced = false;
        for (PoolRef ref : refs) {
            try {
                replaced |= db.inTransaction(tx -> step(tx, ref));
            } catch (RuntimeException e) {
                log.warn("rollout step of pool {} failed, the next one retries: {}", ref, e.toString());
            }
        }
        if (replaced) {
            scheduler.convergeQuietly();
        }
    }

    /** Pins a pool to {@code revision} of its template (empty: follow the current one); 422 for an unknown revision. */
    public Progress setRevision(Caller caller, PoolRef ref, Optional<String> revision, Optional<Integer> maxUnavailable) {
        maxUnavailable.ifPresent(m -> {
            if (m < 1 || m > 1000) {
                throw MvmException.invalid("max_unavailable must be 1-1000, got " + m);
            }
        });
        db.inTransaction(tx -> {
            lock(tx, ref);
            Pool pool = pool(tx, ref);
            String template = pool.template().orElseThrow(() -> new UnprocessableException("pool '" + ref
                    + "' names no template; set one first (mvm pool set-template " + ref + " TEMPLATE)"));
            if (revision.isPresent() && store.findRevision(tx, template, revision.get()).isEmpty()) {
                throw new UnprocessableException("template '" + template + "' has no revision '" + revision.get()
                        + "' (mvm template revisions " + template + ")");
            }
            PoolRollout current = store.rollout(tx, ref).orElse(PoolRollout.fresh(ref, template, clock.instant()));
            PoolRollout next = new PoolRollout(ref, template, revision, current.targetRevision(),
                    current.previousRevision(), maxUnavailable.orElse(current.maxUnavailable()), current.status(),
                    current.reason(), current.replaced(), current.startedAt(), clock.instant());
            store.saveRollout(tx, next);
            audit.changed(tx, caller, ref.tenant(), "pool.set-template", "pools/" + ref + " " + template + "@"
                    + revision.orElse("current") + " max_unavailable " + next.maxUnavailable(), null, null);
            return null;
        });
        stepAll();
        return progress(ref);
    }

    /** Pins a pool back to the revision its last rollout started from. */
    public Progress rollback(Caller caller, PoolRef ref) {
        db.inTransaction(tx -> {
            lock(tx, ref);
            pool(tx, ref);
            PoolRollout current = store.rollout(tx, ref).orElseThrow(() -> MvmException.conflict("pool '" + ref
                    + "' has not rolled to another revision; there is nothing to roll back to"));
            String previous = current.previousRevision().orElseThrow(() -> MvmException.conflict("pool '" + ref
                    + "' has no previous revision to roll back to"));
            PoolRollout next = new PoolRollout(ref, current.template(), Optional.of(previous), current.targetRevision(),
                    current.previousRevision(), current.maxUnavailable(), current.status(), current.reason(),
                    current.replaced(), current.startedAt(), clock.instant());
            store.saveRollout(tx, next);
            audit.changed(tx, caller, ref.tenant(), "pool.rollback", "pools/" + ref + " to " + previous, null, null);
            return null;
        });
        stepAll();
        return progress(ref);
    }

    public Progress progress(PoolRef ref) {
        return db.read(tx -> {
            Pool pool = pool(tx, ref);
            PoolRollout r = store.rollout(tx, ref).orElse(PoolRollout.fresh(ref, pool.template().orElse(""),
                    pool.updatedAt()));
            Optional<String> target = target(tx, pool, r);
            Map<String, InstanceRevision> pinned = store.instanceRevisions(tx);
            List<RolloutPlanner.Member> members = members(instances.listByPool(tx, ref), pinned, pool);
            int onTarget = 0;
            int old = 0;
            List<String> pending = new ArrayList<>();
            for (RolloutPlanner.Member m : members) {
                if (m.desired() == DesiredState.DESTROYED) {
                    continue;
                }
                if (m.revision().isPresent() && target.isPresent() && !m.revision().equals(target)) {
                    old++;
                } else {
                    onTarget++;
                    if (m.state() != m.desired().observedEquivalent()) {
                        pending.add(m.id().value());
                    }
                }
            }
            return new Progress(r, target, onTarget, old, pending, onTarget + old);
        });
    }

    /** One step of one pool; true when it replaced instances (a scheduling pass should follow). */
    private boolean step(Tx tx, PoolRef ref) throws SQLException {
        Tenant tenant = lock(tx, ref);
        Optional<Pool> found = pools.find(tx, ref);
        if (found.isEmpty() || found.get().template().isEmpty()) {
            return false;
        }
        Pool pool = found.get();
        String template = pool.template().get();
        Instant now = clock.instant();
        PoolRollout r = store.rollout(tx, ref).orElse(PoolRollout.fresh(ref, template, now));
        Optional<String> target = target(tx, pool, r);
        if (target.isEmpty()) {
            return false;
        }
        List<Instance> all = instances.listByPool(tx, ref);
        Map<String, InstanceRevision> pinned = store.instanceRevisions(tx);
        List<RolloutPlanner.Member> members = members(all, pinned, pool);
        boolean newTarget = !r.targetRevision().equals(target) || !r.template().equals(template);
        if (!newTarget && r.status().equals(PoolRollout.HALTED)) {
            return false; // stays halted until its target changes (rollback or another revision)
        }
        Decision d = RolloutPlanner.decide(target.get(), members, r.maxUnavailable(), now, healthTimeout);
        if (newTarget && d instanceof Decision.Done) {
            // Nothing to replace: the pool simply follows its new target.
            store.saveRollout(tx, new PoolRollout(ref, template, r.pinnedRevision(), target, r.previousRevision()
                    .filter(p -> r.template().equals(template)), r.maxUnavailable(), PoolRollout.DONE, Optional.empty(),
                    0, r.startedAt(), now));
            return false;
        }
        PoolRollout base = newTarget
                ? new PoolRollout(ref, template, r.pinnedRevision(), target, mostCommonOld(members, target.get())
                        .or(() -> r.targetRevision()), r.maxUnavailable(), PoolRollout.ROLLING, Optional.empty(), 0,
                        Optional.of(now), now)
                : r;
        return switch (d) {
            case Decision.Done done -> {
                if (!base.status().equals(PoolRollout.DONE)) {
                    store.saveRollout(tx, with(base, PoolRollout.DONE, Optional.empty(), base.replaced(), now));
                    log.info("pool {} rolled onto {} revision {} ({} instances replaced)", ref, template,
                            target.get(), base.replaced());
                }
                yield false;
            }
            case Decision.Halt halt -> {
                store.saveRollout(tx, with(base, PoolRollout.HALTED, Optional.of(halt.reason()), base.replaced(), now));
                log.warn("pool {}: {}", ref, halt.reason());
                yield false;
            }
            case Decision.Replace replace -> {
                for (InstanceId id : replace.replace()) {
                    replaceOne(tx, tenant, pool, all.stream().filter(i -> i.id().equals(id)).findFirst().orElseThrow(),
                            template, target.get(), now);
                }
                if (newTarget || !replace.replace().isEmpty() || !base.status().equals(PoolRollout.ROLLING)) {
                    store.saveRollout(tx, with(base, PoolRollout.ROLLING, Optional.empty(),
                            base.replaced() + replace.replace().size(), now));
                }
                yield !replace.replace().isEmpty();
            }
        };
    }

    private void replaceOne(Tx tx, Tenant tenant, Pool pool, Instance old, String template, String target, Instant now)
            throws SQLException {
        Set<Integer> used = new HashSet<>();
        for (String ip : instances.usedIps(tx, tenant.id())) {
            used.add(Ipv4.parse(ip));
        }
        int address = new TenantSubnet(tenant.subnet()).allocateHost(used);
        Instance fresh = Instance.created(newInstanceId.get(), pool.ref(), old.desired(), Ipv4.format(address),
                pool.revision(), now);
        try {
            instances.insert(tx, fresh);
        } catch (SQLException e) {
            if (tx.dialect().isUniqueViolation(e)) {
                throw new RetryTransaction("instance insert raced: " + e.getMessage());
            }
            throw e;
        }
        store.assign(tx, fresh.id().value(), template, target);
        audit.changed(tx, Caller.SYSTEM, tenant.id(), "instance.create", "instances/" + fresh.id() + " (rollout to "
                + template + "@" + target.substring(0, Math.min(12, target.length())) + ", replaces " + old.id() + ")",
                null, 1L);
        if (old.neverPlaced()) {
            instances.delete(tx, old.id());
            audit.changed(tx, Caller.SYSTEM, tenant.id(), "instance.delete", "instances/" + old.id() + " (rollout)",
                    old.version(), null);
        } else {
            Instance destroyed = old.withDesired(DesiredState.DESTROYED, now);
            if (!instances.updateIntent(tx, destroyed, old.version())) {
                throw new RetryTransaction("instance " + old.id() + " changed concurrently");
            }
            audit.changed(tx, Caller.SYSTEM, tenant.id(), "instance.destroy", "instances/" + old.id()
                    + " (rollout: replaced by " + fresh.id() + ")", old.version(), destroyed.version());
        }
    }

    private Optional<String> target(Tx tx, Pool pool, PoolRollout r) throws SQLException {
        String template = pool.template().orElse("");
        if (r.template().equals(template) && r.pinnedRevision().isPresent()
                && store.findRevision(tx, template, r.pinnedRevision().get()).isPresent()) {
            return r.pinnedRevision();
        }
        return store.find(tx, template).flatMap(StoredTemplate::currentRevision);
    }

    private static List<RolloutPlanner.Member> members(List<Instance> all, Map<String, InstanceRevision> pinned,
                                                       Pool pool) {
        String template = pool.template().orElse("");
        return all.stream().map(i -> {
            InstanceRevision p = pinned.get(i.id().value());
            Optional<String> revision = p != null && p.template().equals(template) ? p.assigned()
                    : p != null ? Optional.of("other-template:" + p.template()) : Optional.empty();
            return new RolloutPlanner.Member(i.id(), revision, i.desired(), i.state(), i.createdAt());
        }).toList();
    }

    private static Optional<String> mostCommonOld(List<RolloutPlanner.Member> members, String target) {
        return members.stream().filter(m -> m.desired() != DesiredState.DESTROYED)
                .flatMap(m -> m.revision().stream()).filter(r -> !r.equals(target) && !r.startsWith("other-template:"))
                .collect(Collectors.groupingBy(Function.identity(), Collectors.counting())).entrySet().stream()
                .max(Map.Entry.<String, Long>comparingByValue().thenComparing(Map.Entry.comparingByKey()))
                .map(Map.Entry::getKey);
    }

    private static PoolRollout with(PoolRollout r, String status, Optional<String> reason, int replaced, Instant now) {
        return new PoolRollout(r.pool(), r.template(), r.pinnedRevision(), r.targetRevision(), r.previousRevision(),
                r.maxUnavailable(), status, reason, replaced, r.startedAt(), now);
    }

    private Tenant lock(Tx tx, PoolRef ref) throws SQLException {
        return tenants.lock(tx, ref.tenant()).orElseThrow(() -> MvmException.notFound("tenant '" + ref.tenant()
                + "' not found"));
    }

    private Pool pool(Tx tx, PoolRef ref) throws SQLException {
        return pools.find(tx, ref).orElseThrow(() -> MvmException.notFound("pool '" + ref + "' not found"));
    }
}
