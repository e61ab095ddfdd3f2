package io.mvm.coordinator.http;

import io.javalin.http.Context;
import io.mvm.coordinator.HttpLimits;
import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Access;
import io.mvm.coordinator.http.GuardedRoutes.Scope;
import io.mvm.coordinator.http.relay.ExecRequest;
import io.mvm.coordinator.http.relay.InstanceRelay;
import io.mvm.coordinator.instance.InstanceService;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reaching into a running instance through its node's agent: {@code POST /v1/instances/{id}/exec}
 * (whole, or with {@code Accept: application/x-ndjson} streamed as the guest writes it) and
 * {@code GET /v1/instances/{id}/logs}. Every call is audited with its outcome and exec calls are
 * capped per instance and in all ({@link ExecLimiter}); the relay itself is {@link InstanceRelay}.
 */
final class InstanceAccessRoutes {
    private static final Logger log = LoggerFactory.getLogger(InstanceAccessRoutes.class);

    private final InstanceService instances;
    private final InstanceRelay relay;
    private final RequestBodies bodies;
    private final AuditTrail audit;
    private final HttpLimits limits;
    private final ExecLimiter execs;

    InstanceAccessRoutes(InstanceService instances, InstanceRelay relay, RequestBodies bodies, AuditTrail audit,
            HttpLimits limits) {
        this.instances = instances;
        this.relay = relay;
        this.bodies = bodies;
        this.audit = audit;
        this.limits = limits;
        this.execs = new ExecLimiter(limits.execPerInstance(), limits.execTotal());
    }

    void register(GuardedRoutes g) {
        // exec runs code in the guest: a write, not a read
        g.post("/v1/instances/{id}/exec", Access.TENANT_WRITE, Scope.INSTANCE, this::exec);
        g.get("/v1/instances/{id}/logs", Access.TENANT_READ, Scope.INSTANCE, this::logs);
    }

    private void exec(Context ctx) throws IOException {
        InstanceId id = InstanceId.of(ctx.pathParam("id"));
        Requests.Exec req = bodies.read(ctx, Requests.Exec.class);
        ExecRequest exec = new ExecRequest(req.argv() == null ? null : ApiServer.noNulls(req.argv()),
                req.env() == null ? null : ApiServer.noNulls(req.env()), req.stdinB64(),
                req.timeoutSecs() == null ? ExecRequest.DEFAULT_TIMEOUT_SECS : req.timeoutSecs());
        TenantId tenant = instances.get(id).pool().tenant();
        String what = "instance/" + id + " " + exec.argv().getFirst();
        if (!execs.tryEnter(id)) {
            throw new RateLimitedException("too many exec calls running (at most " + limits.execPerInstance()
                    + " per instance, " + limits.execTotal() + " in all); retry when one ends", 1);
        }
        try {
            String accept = ctx.header("Accept");
            if (accept != null && accept.contains(InstanceRelay.NDJSON)) {
                try (InputStream agent = audited(ctx, tenant, "instance.exec", what, () -> relay.execStream(id, exec))) {
                    copyAsItArrives(agent, ctx);
                }
            } else {
                InstanceRelay.Answer answer = audited(ctx, tenant, "instance.exec", what, () -> relay.exec(id, exec));
                ctx.status(200).contentType("application/json").result(answer.body());
            }
        } finally {
            execs.exit(id);
        }
    }

    /**
     * The agent's lines are passed on as they come, each flushed at once, so the caller sees the
     * guest's output while the command runs; the agent already bounds what it sends (the guest
     * agent's cap per stream), so this holds one buffer, never a whole answer.
     */
    private static void copyAsItArrives(InputStream agent, Context ctx) throws IOException {
        ctx.status(200).contentType(InstanceRelay.NDJSON);
        OutputStream out = ctx.res().getOutputStream();
        byte[] buffer = new byte[16 * 1024];
        try {
            for (int n; (n = agent.read(buffer)) >= 0; ) {
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // Either side went away mid-stream; the status is sent, so all that is left is to stop.
            log.debug("exec stream ended early: {}", e.toString());
        }
    }

    private void logs(Context ctx) {
        InstanceId id = InstanceId.of(ctx.pathParam("id"));
        long lines = ApiServer.longQuery(ctx, "lines", 100);
        TenantId tenant = instances.get(id).pool().tenant();
        InstanceRelay.Answer answer = audited(ctx, tenant, "instance.logs", "instance/" + id,
                () -> relay.logs(id, Math.clamp(lines, 0, Integer.MAX_VALUE)));
        ctx.status(200).contentType("text/plain; charset=utf-8").result(answer.body());
    }

    private <T> T audited(Context ctx, TenantId tenant, String action, String what, Supplier<T> call) {
        T answer;
        try {
            answer = call.get();
        } catch (MvmException e) {
            audit.accessed(ApiServer.caller(ctx), tenant, action, what, "refused: " + e.getMessage());
            throw e;
        }
        audit.accessed(ApiServer.caller(ctx), tenant, action, what, "ok");
        return answer;
    }
}
