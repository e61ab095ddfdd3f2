package io.mvm.coordinator.vms;

import io.mvm.coordinator.ExpectedVersion;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.http.relay.InstanceRelay;
import io.mvm.coordinator.warm.WarmPools;
import io.mvm.coordinator.pool.PoolPatch;
import io.mvm.coordinator.pool.PoolService;
import io.mvm.coordinator.pool.PoolSpec;
import io.mvm.coordinator.scheduler.Scheduler;
import io.mvm.coordinator.tenant.TenantService;
import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.liveness.OnNodeLost;
import io.mvm.core.pool.TargetCounts;
import io.mvm.core.pool.TenantQuota;
import io.mvm.core.vms.VmSpec;
import io.mvm.core.vms.VmSpecs;
import io.mvm.model.ErrorCategory;
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
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.PoolStore;
import io.mvm.store.pool.Workload;
import io.mvm.store.tenant.TenantStore;
import io.mvm.store.vm.VmJob;
import io.mvm.store.vm.VmJobStore;
import io.mvm.store.vm.StoredVmSpec;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /vms} jobs: one VM for one tenant, declared by the API or a desired-VMs file, upserted by
 * job id. Each job runs through a pool of its own ({@code vm-<job_id>}, one running instance), so
 * quotas, placement, reconcile, health, exec and logs work as for any pool; the job row and its
 * pool change in one transaction.
 *
 * <p>A new (or replaced) job first tries to <em>claim</em> a warm VM of the same spec hash
 * ({@link WarmPools}): the claim is recorded in the job's transaction, then the agent holding the
 * VM is asked directly to hand it over (the answer comes once the workload has started); when no
 * warm VM is free, or the hand-over fails, the VM is cold-booted. Not yet here: the {@code job}
 * lifecycle's run-once end.
 */
public final class VmJobService {
    private static final Logger log = LoggerFactory.getLogger(VmJobService.class);
    /** Job ids double as default tenant ids and name the job's pool {@code vm-<id>} (at most 31 characters). */
    private static final Pattern JOB_ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,27}");
    public static final String POOL_PREFIX = "vm-";
    public static final Duration MAX_WAIT = Duration.ofMinutes(5);

    private final Database db;
    private final VmJobStore jobs;
    private final TenantStore tenants;
    private final PoolStore pools;
    private final InstanceStore instances;
    private final TenantService tenantService;
    private final PoolService poolService;
    private final Scheduler scheduler;
    private final InstantSource clock;
    private final Supplier<String> newJobId;
    private final WarmPools warm;
    private final InstanceRelay relay;

    public VmJobService(Database db, VmJobStore jobs, TenantStore tenants, PoolStore pools, InstanceStore instances,
                        TenantService tenantService, PoolService poolService, Scheduler scheduler, InstantSource clock,
                        Supplier<String> newJobId, WarmPools warm, InstanceRelay relay,
                        io.mvm.coordinator.leader.Leadership leadership) {
        this.leadership = leadership;
        this.warm = warm;
        this.relay = relay;
        this.db = db;
        this.jobs = jobs;
        this.tenants = tenants;
        this.pools = pools;
        this.instances = instances;
        this.tenantService = tenantService;
        this.poolService = poolService;
        this.scheduler = scheduler;
        this.clock = clock;
        this.newJobId = newJobId;
    }

    /** What a submission did. */
    public enum Outcome {
        /** A warm VM was claimed and runs the job's workload already. */
        CLAIMED,
        /** A new job; its VM is booting (no warm VM served it). */
        COLD_BOOT,
        /** The job existed with this very spec: nothing changed. */
        UNCHANGED,
        /** Only what does not shape the VM changed (warm-pool sizes, idle policy): recorded, the VM kept. */
        UPDATED,
        /** The job existed with another spec: its VM is replaced to match. */
        REPLACED
    }

    /** A job with its spec (without secrets) and its VM, if one exists yet. */
    public record JobState(VmJob job, StoredVmSpec spec, Optional<Instance> vm) {
        public String status() {
            if (job.finished().isPresent() && vm.isEmpty()) {
                return job.finished().get().exitCode() == 0 ? "completed" : "failed";
            }
            return vm.map(i -> i.state().wireName()).orElse("pending");
        }

        public boolean running() {
            return vm.map(i -> i.state() == InstanceState.RUNNING).orElse(false);
        }
    }

    /**
     * @param claimPhases where a claim's time went on the agent (empty when none was tried)
     * @param claimMiss   why a warm VM could not serve this submission, when one was tried and failed
     */
    public record Submitted(JobState state, Outcome outcome, Duration took, Map<String, Long> claimPhases,
                            Optional<String> claimMiss) {
        public Submitted(JobState state, Outcome outcome, Duration took) {
            this(state, outcome, took, Map.of(), Optional.empty());
        }

        /** Which tier served the job: a warm VM, or a cold boot (none, when nothing was booted). */
        public Optional<String> tier() {
            return switch (outcome) {
                case CLAIMED -> Optional.of("warm");
                case COLD_BOOT, REPLACED -> Optional.of("cold");
                case UNCHANGED, UPDATED -> Optional.empty();
            };
        }
    }

    /** A claim recorded in the database, to be handed over by the agent after commit. */
    private record Decision(Outcome outcome, Optional<WarmPools.Claim> claim, boolean replacing) {}

    /** The stored form of a spec: everything but secret values (their names are kept, to show). */
    static StoredVmSpec stored(VmSpec s) {
        return new StoredVmSpec(s.template().orElse(null), s.rootfs().orElse(null), s.kernel().orElse(null), s.cmd(),
                s.env(), s.secrets().keySet().stream().sorted().toList(),
                new StoredVmSpec.Resources(s.vcpu(), s.memMb()), s.lifecycle().wireName(),
                new StoredVmSpec.WarmPool(s.warmMin(), s.warmMax()),
                s.ports().stream().map(p -> new StoredVmSpec.Port(p.guest(), p.host(), p.protocol())).toList(),
                s.idle().map(i -> new StoredVmSpec.Idle(i.warmAfter().toMillis(), i.sleepAfter().toMillis(),
                        i.minRuntime().toMillis(), i.cpuThreshold())).orElse(null));
    }

    public static String validJobId(String text) {
        if (text == null || !JOB_ID.matcher(text).matches()) {
            throw MvmException.invalid("invalid job_id '" + text + "': use 1-28 lower-case letters, digits or '-',"
                    + " starting with a letter or digit");
        }
        return text;
    }

    /**
     * Creates or replaces a job. {@code tenant} defaults to the job id and is created on first use
     * with the cluster's default quotas. A job declared by the desired-VMs file can only be changed
     * there, and the file cannot take over a job made through the API.
     */
    public Submitted submit(Caller caller, Optional<String> jobId, Optional<TenantId> tenant, VmSpec spec,
                            String source) {
        long started = System.nanoTime();
        String id = validJobId(jobId.orElseGet(newJobId));
        TenantId tenantId = tenant.orElseGet(() -> TenantId.of(id));
        if (tenantId.standby()) {
            throw MvmException.invalid("tenant '" + tenantId + "' is reserved for the warm pools");
        }
        ensureTenant(caller, tenantId);
        StoredVmSpec stored = stored(spec);
        String hash = VmSpecs.hash(spec);
        PoolRef ref = new PoolRef(tenantId, PoolName.of(POOL_PREFIX + id));
        Decision decision = db.inTransaction(tx -> {
            // The tenant's row lock serialises submissions of its jobs (and the pool writes
            // below), so two concurrent first submissions of one job cannot both create it.
            tenants.lock(tx, tenantId).orElseThrow(() -> MvmException.notFound("tenant '" + tenantId + "' not found"));
            Optional<VmJob> existing = jobs.find(tx, id);
            Instant now = clock.instant();
            if (existing.isEmpty()) {
                Pool created = poolService.createIn(tx, caller, poolSpec(ref, spec));
                poolService.exposeIn(tx, ref, exposureOf(spec));
                jobs.insert(tx, new VmJob(id, tenantId, ref.name(), stored, hash, source, 1, now, now));
                Optional<WarmPools.Claim> claim = warm.claimIn(tx, caller, hash, created);
                return new Decision(claim.isPresent() ? Outcome.CLAIMED : Outcome.COLD_BOOT, claim, false);
            }
            VmJob job = existing.get();
            if (!job.tenant().equals(tenantId)) {
                throw MvmException.conflict("job '" + id + "' belongs to tenant '" + job.tenant() + "', not '" + tenantId
                        + "'; delete it first to move it");
            }
            if (!job.source().equals(source)) {
                throw MvmException.conflict(job.source().equals(VmJob.FILE)
                        ? "job '" + id + "' is declared in the desired-VMs file; change it there"
                        : "job '" + id + "' was created through the API; the desired-VMs file cannot take it over");
            }
            Pool pool = pools.find(tx, ref).orElseThrow(() -> MvmException.internal("job '" + id + "' has no pool "
                    + ref, null));
            boolean sameVm = job.specHash().equals(hash) && pool.workload().secrets().equals(spec.secrets());
            if (sameVm && job.spec().equals(stored)) {
                return new Decision(Outcome.UNCHANGED, Optional.empty(), false);
            }
            VmJob next = new VmJob(id, tenantId, ref.name(), stored, hash, source, job.version() + 1, job.createdAt(),
                    now);
            if (!jobs.update(tx, next, job.version())) {
                throw new RetryTransaction("job " + id + " changed concurrently");
            }
            if (sameVm) {
                // e.g. another idle policy: the running VM follows it from its node's next report
                poolService.exposeIn(tx, ref, exposureOf(spec));
                return new Decision(Outcome.UPDATED, Optional.empty(), false);
            }
            // The agent keeps a VM whose spec changed (rolling a pool is the templates work), so a
            // job's new spec gets a new VM: the old one is destroyed, the pool makes another.
            for (Instance old : instances.listByPool(tx, ref)) {
                if (old.desired() == DesiredState.DESTROYED) {
                    continue;
                }
                if (old.neverPlaced()) {
                    instances.delete(tx, old.id());
                } else if (!instances.updateIntent(tx, old.withDesired(DesiredState.DESTROYED, now), old.version())) {
                    throw new RetryTransaction("instance " + old.id() + " changed concurrently");
                }
            }
            // Running 1 again: a finished run-once job's pool was scaled to zero.
            poolService.patchIn(tx, caller, ref, new PoolPatch(Optional.of(1), Optional.of(0), Optional.of(0),
                    Optional.of(0), Optional.of(spec.vcpu()), Optional.of(spec.memMb()), Optional.empty(),
                    Optional.of(spec.template().orElse("")), Optional.empty(), Optional.of(spec.cmd()),
                    Optional.of(spec.env()), Optional.of(spec.secrets()), Optional.empty(), Optional.empty(),
                    Optional.of(restartsOnExit(spec))),
                    ExpectedVersion.ANY);
            poolService.exposeIn(tx, ref, exposureOf(spec));
            Pool patched = pools.find(tx, ref).orElseThrow();
            Optional<WarmPools.Claim> claim = warm.claimIn(tx, caller, hash, patched);
            return new Decision(claim.isPresent() ? Outcome.CLAIMED : Outcome.REPLACED, claim, true);
        });
        Outcome outcome = decision.outcome();
        Map<String, Long> phases = Map.of();
        Optional<String> miss = Optional.empty();
        if (decision.claim().isPresent()) {
            try {
                phases = handOver(decision.claim().get());
            } catch (MvmException e) {
                // The agent destroys a VM whose hand-over failed and boots the instance afresh:
                // the job runs on a cold boot, the claim's VM goes to nobody.
                miss = Optional.of(e.getMessage());
                outcome = decision.replacing() ? Outcome.REPLACED : Outcome.COLD_BOOT;
                log.warn("job {}: the claim of warm VM {} failed, cold-booting it instead: {}", id,
                        decision.claim().get().instance().id(), e.getMessage());
            }
        }
        if (outcome != Outcome.UNCHANGED && outcome != Outcome.UPDATED) {
            log.info("job {} ({}, tenant {}): {}", id, source, tenantId, outcome);
        }
        // Warm pools follow the jobs' specs; a claim's replacement and any cold boot get placed.
        warm.syncQuietly();
        scheduler.convergeQuietly();
        return new Submitted(get(id), outcome, Duration.ofNanos(System.nanoTime() - started), phases, miss);
    }

    /** Asks the agent holding the claimed VM to hand it over now (never waiting for a reconcile pass). */
    private Map<String, Long> handOver(WarmPools.Claim claim) {
        var entry = db.read(tx -> scheduler.desiredEntry(tx, claim.instance().id())).orElseThrow(() ->
                MvmException.conflict("claimed instance " + claim.instance().id() + " is no longer placed"));
        return relay.claim(claim.instance().id(), entry, CLAIM_TIMEOUT);
    }

    private static final Duration CLAIM_TIMEOUT = Duration.ofSeconds(30);

    private void ensureTenant(Caller caller, TenantId tenant) {
        if (db.read(tx -> tenants.find(tx, tenant)).isPresent()) {
            return;
        }
        try {
            tenantService.create(caller, tenant, TenantQuota.DEFAULT);
        } catch (MvmException e) {
            if (e.category() != ErrorCategory.ALREADY_EXISTS) {
                throw e; // another request created it first: fine
            }
        }
    }

    /** The job's ports become its pool's routes and its idle policy the pool's (issue 13). */
    private static io.mvm.core.scale.Exposure exposureOf(VmSpec spec) {
        return new io.mvm.core.scale.Exposure(spec.ports().stream()
                .map(p -> new io.mvm.core.scale.PortMapping(p.guest(), p.host(), p.protocol())).toList(),
                spec.idle());
    }

    private static PoolSpec poolSpec(PoolRef ref, VmSpec spec) {
        // No data disk: a job's state is its image, its spec and its secrets, so it can be
        // recreated anywhere (on_node_lost auto then means recreate).
        return new PoolSpec(ref, Role.WORKER, "default", ".", spec.template(), spec.vcpu(), spec.memMb(), 0,
                new TargetCounts(1, 0, 0, 0),
                new Workload(spec.cmd(), spec.env(), spec.secrets(), Map.of(), restartsOnExit(spec)), OnNodeLost.AUTO);
    }

    /** Services and daemons keep running: their node restarts the VM when the workload exits. */
    static boolean restartsOnExit(VmSpec spec) {
        return spec.lifecycle() != io.mvm.core.vms.Lifecycle.JOB;
    }

    public JobState get(String jobId) {
        return db.read(tx -> state(tx, jobs.find(tx, validJobId(jobId))
                .orElseThrow(() -> MvmException.notFound("job '" + jobId + "' not found"))));
    }

    public List<JobState> list() {
        return db.read(tx -> {
            List<JobState> out = new ArrayList<>();
            for (VmJob j : jobs.list(tx)) {
                out.add(state(tx, j));
            }
            return out;
        });
    }

    public List<VmJob> listBySource(String source) {
        return db.read(tx -> jobs.listBySource(tx, source));
    }

    private JobState state(Tx tx, VmJob job) throws SQLException {
        Optional<Instance> vm = instances.listByPool(tx, new PoolRef(job.tenant(), job.pool())).stream()
                .filter(i -> i.desired() != DesiredState.DESTROYED).findFirst();
        return new JobState(job, job.spec(), vm);
    }

    /**
     * Waits until the job's VM runs or {@code timeout} is over; returns its state either way
     * (the caller tells which from {@link JobState#running()}). Polls the database, so a change
     * made through another coordinator is seen too.
     */
    public JobState awaitRunning(String jobId, Duration timeout) throws InterruptedException {
        if (timeout.isNegative() || timeout.compareTo(MAX_WAIT) > 0) {
            throw MvmException.invalid("timeout must be 0-" + MAX_WAIT.toSeconds() + "s, got " + timeout.toSeconds() + "s");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            JobState state = get(jobId);
            if (state.running() || System.nanoTime() >= deadline) {
                return state;
            }
            Thread.sleep(Math.min(100, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
        }
    }

    /** Deletes a job: its VM is destroyed and its pool goes once the VM's node confirms. */
    public void delete(Caller caller, String jobId, String source) {
        String id = validJobId(jobId);
        db.inTransaction(tx -> {
            VmJob job = jobs.find(tx, id).orElseThrow(() -> MvmException.notFound("job '" + id + "' not found"));
            if (!job.source().equals(source) && source.equals(VmJob.API) && job.source().equals(VmJob.FILE)) {
                throw MvmException.conflict("job '" + id + "' is declared in the desired-VMs file; remove it there");
            }
            PoolRef ref = new PoolRef(job.tenant(), job.pool());
            if (pools.find(tx, ref).isPresent()) {
                poolService.deleteIn(tx, caller, ref, ExpectedVersion.ANY);
            }
            jobs.delete(tx, id);
            return null;
        });
        warm.syncQuietly();
        scheduler.convergeQuietly();
        log.info("job {} deleted ({})", id, source);
    }

    private final io.mvm.coordinator.leader.Leadership leadership;
    private final java.util.concurrent.atomic.AtomicBoolean finishing = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * {@link #finishExitedJobs()} on a virtual thread of its own, at most one at a time: it waits on
     * agents, and housekeeping's other chores (lost nodes above all) must not wait behind it.
     */
    public void finishExitedJobsInBackground() {
        if (finishing.compareAndSet(false, true)) {
            Thread.ofVirtual().name("finish-jobs").start(() -> {
                try {
                    // Its own thread: the leader's fence is set again here (it is per thread).
                    leadership.runAsLeader(this::finishExitedJobs);
                } finally {
                    finishing.set(false);
                }
            });
        }
    }

    /** How much of a finished job's console output is kept (its tail). */
    static final int OUTPUT_TAIL_CHARS = 4000;

    /**
     * Run-once ({@code job} lifecycle) jobs whose workload has exited: records the exit code and the
     * tail of the console, and scales the job's pool to zero so its VM is destroyed (housekeeping;
     * never throws). Asks each running one-shot job's agent through the relay. Returns how many
     * jobs finished.
     */
    public int finishExitedJobs() {
        int finished = 0;
        List<JobState> all;
        try {
            all = list();
        } catch (RuntimeException e) {
            log.warn("cannot list jobs to find finished ones, retrying later: {}", e.toString());
            return 0;
        }
        for (JobState s : all) {
            if (!s.spec().lifecycle().equals("job") || s.job().finished().isPresent() || !s.running()) {
                continue;
            }
            Instance vm = s.vm().orElseThrow();
            try {
                InstanceRelay.Workload w = relay.workload(vm.id());
                if (!w.state().equals("exited")) {
                    continue;
                }
                String console = new String(relay.logs(vm.id(), 100).body(), java.nio.charset.StandardCharsets.UTF_8);
                String tail = console.length() > OUTPUT_TAIL_CHARS
                        ? console.substring(console.length() - OUTPUT_TAIL_CHARS) : console;
                VmJob.Finished outcome = new VmJob.Finished(clock.instant(), w.exitCode().orElse(-1), tail);
                boolean recorded = db.inTransaction(tx -> {
                    if (!jobs.finish(tx, s.job().jobId(), outcome)) {
                        return false;
                    }
                    PoolRef ref = new PoolRef(s.job().tenant(), s.job().pool());
                    if (pools.find(tx, ref).isPresent()) {
                        poolService.patchIn(tx, Caller.SYSTEM, ref, PoolPatch.counts(new TargetCounts(0, 0, 0, 0)),
                                ExpectedVersion.ANY);
                    }
                    return true;
                });
                if (recorded) {
                    finished++;
                    log.info("job {} finished: exit {} (its VM {} is destroyed)", s.job().jobId(), outcome.exitCode(),
                            vm.id());
                }
            } catch (MvmException e) {
                log.debug("job {}: workload not readable yet: {}", s.job().jobId(), e.getMessage());
            } catch (RuntimeException e) {
                log.warn("job {}: cannot check its workload: {}", s.job().jobId(), e.toString());
            }
        }
        if (finished > 0) {
            scheduler.convergeQuietly();
        }
        return finished;
    }

    /**
     * Removes the pools of deleted jobs whose VMs their nodes have confirmed gone (housekeeping;
     * never throws). Returns how many went.
     */
    public int reapDeletedJobPools() {
        try {
            return db.inTransaction(tx -> {
                int removed = 0;
                List<String> live = jobs.list(tx).stream().map(j -> j.tenant() + "/" + j.pool()).toList();
                for (Pool p : pools.listAll(tx)) {
                    if (p.ref().name().value().startsWith(POOL_PREFIX) && !live.contains(p.ref().toString())
                            && instances.listByPool(tx, p.ref()).isEmpty()) {
                        poolService.deleteIn(tx, Caller.SYSTEM, p.ref(), ExpectedVersion.ANY);
                        removed++;
                    }
                }
                return removed;
            });
        } catch (RuntimeException e) {
            log.warn("could not reap the pools of deleted jobs, retrying later: {}", e.toString());
            return 0;
        }
    }

}
