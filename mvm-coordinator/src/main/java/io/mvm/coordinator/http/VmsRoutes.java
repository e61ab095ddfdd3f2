package io.mvm.coordinator.http;

import io.javalin.http.Context;
import io.mvm.coordinator.auth.Access;
import io.mvm.coordinator.http.GuardedRoutes.Scope;
import io.mvm.coordinator.vms.VmJobService;
import io.mvm.coordinator.vms.VmJobService.JobState;
import io.mvm.coordinator.vms.WaitTimeoutException;
import io.mvm.coordinator.warm.WarmPools;
import io.mvm.core.vms.VmSpec;
import io.mvm.core.vms.VmSpecDraft;
import io.mvm.core.vms.VmSpecs;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import io.mvm.store.vm.VmJob;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code /vms} API (the desired-VMs seed's routes, authenticated like every route): submit
 * (upsert by job id), read, wait, delete, and {@code /stats}. Translation only; the rules are in
 * {@link VmJobService}.
 */
final class VmsRoutes {
    /** Which tier served a submission; also the value of the {@code Mvm-Tier} header. */
    static final String TIER_HEADER = "Mvm-Tier";
    static final String CLAIM_MS_HEADER = "Mvm-Claim-Ms";
    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m)?");

    interface JsonWriter {
        void write(Context ctx, int status, Object body);
    }

    private final VmJobService jobs;
    private final WarmPools warm;
    private final RequestBodies bodies;
    private final JsonWriter json;
    private final HttpMetrics metrics;

    VmsRoutes(VmJobService jobs, WarmPools warm, RequestBodies bodies, JsonWriter json, HttpMetrics metrics) {
        this.jobs = jobs;
        this.warm = warm;
        this.bodies = bodies;
        this.json = json;
        this.metrics = metrics;
    }

    record SubmitVm(String jobId, String tenant, VmSpecDraft spec) {
        @Override
        public String toString() {
            return "SubmitVm[jobId=" + jobId + "]";
        }
    }

    /** {@code exitCode}, {@code outputTail} and {@code finishedAt}: how a run-once job ended (else null). */
    record VmView(String jobId, String tenant, String vmId, String status, String node, String ip, String specHash,
                  String source, io.mvm.store.vm.StoredVmSpec spec, String pendingReason, String lastError, long version,
                  Instant createdAt, Instant updatedAt, Integer exitCode, String outputTail, Instant finishedAt) {}

    /**
     * @param tier        warm (a warm VM was claimed), cold-boot, or none (nothing was booted)
     * @param claimPhases where a warm claim's time went on the agent, in milliseconds
     * @param claimMiss   why a warm VM that was claimed could not serve the job (it was cold-booted)
     */
    record SubmittedView(String jobId, String tenant, String vmId, String status, String tier, long claimMs,
                         String outcome, java.util.Map<String, Long> claimPhasesMs, String claimMiss, VmView vm) {}

    record StatsView(Summary summary, List<JobStat> jobs, List<WarmStat> warmPool) {
        record Summary(int totalJobs, int totalWarm) {}

        record JobStat(String jobId, String vmId, String tenant, String status, io.mvm.store.vm.StoredVmSpec spec) {}

        record WarmStat(String specHash, String vmId, String status, String node, io.mvm.store.vm.StoredVmSpec spec) {}
    }

    void register(GuardedRoutes g) {
        g.post("/vms", Access.TENANT_WRITE, Scope.CALLERS_TENANT, this::submit);
        g.get("/vms", Access.TENANT_LIST, Scope.NONE, ctx -> {
            Paging.Request req = Paging.request(ctx);
            json.write(ctx, 200, Paging.listOf(ctx, Paging.slice(visible(ctx), req, s -> s.job().jobId()),
                    VmsRoutes::view));
        });
        g.get("/vms/{job_id}", Access.TENANT_READ, Scope.JOB, this::get);
        g.delete("/vms/{job_id}", Access.TENANT_WRITE, Scope.JOB, ctx -> {
            jobs.delete(ApiServer.caller(ctx), ctx.pathParam("job_id"), VmJob.API);
            ctx.status(204);
        });
        g.get("/stats", Access.TENANT_LIST, Scope.NONE, ctx -> {
            List<JobState> all = visible(ctx);
            // A warm pool's spec is shown as one of the visible jobs that share its hash (a tenant
            // sees the warm VMs of its own specs only; secrets are never part of a stored spec).
            java.util.Map<String, io.mvm.store.vm.StoredVmSpec> specs = new java.util.HashMap<>();
            all.forEach(s -> specs.putIfAbsent(warmKey(s.job().specHash()), s.spec()));
            List<StatsView.WarmStat> warmVms = warm.list().stream()
                    .filter(w -> specs.containsKey(w.specHash()) || ApiServer.caller(ctx).tenant().isEmpty())
                    .map(w -> new StatsView.WarmStat(w.specHash(), w.vmId().value(), w.status(), w.node().orElse(null),
                            specs.get(w.specHash())))
                    .toList();
            json.write(ctx, 200, new StatsView(new StatsView.Summary(all.size(), warmVms.size()),
                    all.stream().map(s -> new StatsView.JobStat(s.job().jobId(), s.vm().map(i -> i.id().value())
                            .orElse(null), s.job().tenant().value(), s.status(), s.spec())).toList(), warmVms));
        });
    }

    /** The spec hash as warm pools name it (its first 24 hex digits). */
    private static String warmKey(String specHash) {
        return WarmPools.poolName(specHash).value().substring(WarmPools.POOL_PREFIX.length());
    }

    /** A job's tenant, for tenant-scoped access (404 for an unknown job). */
    TenantId tenantOf(Context ctx) {
        return jobs.get(ctx.pathParam("job_id")).job().tenant();
    }

    /** Every job for the admin; a tenant token's tenant's jobs only. */
    private List<JobState> visible(Context ctx) {
        Optional<TenantId> only = ApiServer.caller(ctx).tenant();
        return jobs.list().stream().filter(s -> only.map(s.job().tenant()::equals).orElse(true)).toList();
    }

    private void submit(Context ctx) {
        var caller = ApiServer.caller(ctx);
        SubmitVm req = bodies.read(ctx, SubmitVm.class);
        Optional<TenantId> tenant = Optional.ofNullable(req.tenant()).map(TenantId::of);
        if (caller.tenant().isPresent()) {
            // A tenant token submits for its own tenant only, whatever the job is called.
            if (tenant.isPresent() && !tenant.equals(caller.tenant())) {
                throw new MvmException(ErrorCategory.PERMISSION_DENIED, "this token is for tenant "
                        + caller.tenant().get() + " and may not submit jobs for tenant " + tenant.get());
            }
            tenant = caller.tenant();
        }
        VmSpec spec = VmSpecs.validate(req.spec(), "spec");
        var submitted = jobs.submit(caller, Optional.ofNullable(req.jobId()), tenant, spec, VmJob.API);
        JobState s = submitted.state();
        String id = s.job().jobId();
        int status = switch (submitted.outcome()) {
            case CLAIMED -> 201;
            case COLD_BOOT, REPLACED -> 202;
            case UNCHANGED, UPDATED -> 200;
        };
        String tier = submitted.tier().map(t -> t.equals("cold") ? "cold-boot" : t).orElse("none");
        long ms = submitted.took().toMillis();
        ctx.header(TIER_HEADER, tier);
        ctx.header(CLAIM_MS_HEADER, Long.toString(ms));
        if (status != 200) {
            ctx.header("Location", "/vms/" + id);
            metrics.vmSubmission(tier, submitted.claimMiss().isPresent(), submitted.took());
        }
        json.write(ctx, status, new SubmittedView(id, s.job().tenant().value(), s.vm().map(i -> i.id().value())
                .orElse(null), s.status(), tier, ms, submitted.outcome().name().toLowerCase(), submitted.claimPhases(),
                submitted.claimMiss().orElse(null), view(s)));
    }

    private void get(Context ctx) throws InterruptedException {
        String id = ctx.pathParam("job_id");
        String wait = ctx.queryParam("wait");
        if (wait == null) {
            json.write(ctx, 200, view(jobs.get(id)));
            return;
        }
        if (!wait.equals("running")) {
            throw MvmException.invalid("wait must be 'running', got '" + wait + "'");
        }
        Duration timeout = duration(Optional.ofNullable(ctx.queryParam("timeout")).orElse("30s"));
        JobState s = jobs.awaitRunning(id, timeout);
        if (!s.running()) {
            throw new WaitTimeoutException("job '" + id + "' is not running after " + timeout.toMillis() + " ms (status "
                    + s.status() + s.vm().flatMap(i -> i.pendingReason()).map(r -> ": " + r).orElse("") + ")",
                    s.status());
        }
        json.write(ctx, 200, view(s));
    }

    /** {@code 30s}, {@code 500ms}, {@code 2m} or plain seconds. */
    static Duration duration(String text) {
        Matcher m = DURATION.matcher(text);
        if (!m.matches()) {
            throw MvmException.invalid("timeout must look like 30s, 500ms, 2m or 30, got '" + text + "'");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        return switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofSeconds(n);
        };
    }

    static VmView view(JobState s) {
        VmJob j = s.job();
        return new VmView(j.jobId(), j.tenant().value(), s.vm().map(i -> i.id().value()).orElse(null), s.status(),
                s.vm().flatMap(i -> i.node()).map(n -> n.value()).orElse(null), s.vm().map(i -> i.ip()).orElse(null),
                j.specHash(), j.source(), s.spec(), s.vm().flatMap(i -> i.pendingReason()).orElse(null),
                s.vm().flatMap(i -> i.lastError()).orElse(null), j.version(), j.createdAt(), j.updatedAt(),
                j.finished().map(VmJob.Finished::exitCode).orElse(null),
                j.finished().map(VmJob.Finished::outputTail).orElse(null),
                j.finished().map(VmJob.Finished::at).orElse(null));
    }
}
