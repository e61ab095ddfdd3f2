package io.mvm.coordinator.http;

import io.javalin.http.Context;
import io.mvm.coordinator.auth.Access;
import io.mvm.coordinator.http.GuardedRoutes.Scope;
import io.mvm.coordinator.pool.PoolPatch;
import io.mvm.coordinator.pool.PoolService;
import io.mvm.coordinator.template.RolloutService;
import io.mvm.model.MvmException;
import io.mvm.model.PoolName;
import io.mvm.model.PoolRef;
import io.mvm.model.TenantId;
import io.mvm.store.template.PoolRollout;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A pool's rollout: {@code GET .../rollout} (progress), {@code PUT .../rollout} (set-template:
 * template, optional revision to pin, max_unavailable) and {@code POST .../rollback}. The rules are
 * in {@link RolloutService} and mvm-core's RolloutPlanner.
 */
final class RolloutRoutes {
    private final RolloutService rollouts;
    private final PoolService pools;
    private final RequestBodies bodies;
    private final VmsRoutes.JsonWriter json;

    RolloutRoutes(RolloutService rollouts, PoolService pools, RequestBodies bodies, VmsRoutes.JsonWriter json) {
        this.rollouts = rollouts;
        this.pools = pools;
        this.bodies = bodies;
        this.json = json;
    }

    record SetTemplate(String template, String revision, Integer maxUnavailable) {}

    record RolloutView(String tenant, String pool, String template, String status, String reason, String targetRevision,
                       String pinnedRevision, boolean followsCurrent, String previousRevision, int maxUnavailable,
                       int replaced, int onTarget, int old, List<String> pending, int total, Instant startedAt,
                       Instant updatedAt) {}

    void register(GuardedRoutes g) {
        String path = "/v1/tenants/{tenant}/pools/{pool}";
        g.get(path + "/rollout", Access.TENANT_READ, Scope.PATH_TENANT,
                ctx -> json.write(ctx, 200, view(rollouts.progress(ref(ctx)))));
        g.put(path + "/rollout", Access.TENANT_WRITE, Scope.PATH_TENANT, this::setTemplate);
        g.post(path + "/rollback", Access.TENANT_WRITE, Scope.PATH_TENANT, ctx -> json.write(ctx, 200,
                view(rollouts.rollback(ApiServer.caller(ctx), ref(ctx)))));
    }

    private void setTemplate(Context ctx) {
        PoolRef ref = ref(ctx);
        SetTemplate req = bodies.read(ctx, SetTemplate.class);
        if (req.template() != null) {
            if (req.template().isBlank()) {
                throw MvmException.invalid("template must name a template");
            }
            if (!pools.get(ref).template().equals(Optional.of(req.template()))) {
                pools.patch(ApiServer.caller(ctx), ref, PoolPatch.template(req.template()), ApiServer.ifMatch(ctx));
            }
        }
        json.write(ctx, 200, view(rollouts.setRevision(ApiServer.caller(ctx), ref,
                Optional.ofNullable(req.revision()).filter(r -> !r.isBlank()), Optional.ofNullable(req.maxUnavailable()))));
    }

    private static PoolRef ref(Context ctx) {
        return new PoolRef(TenantId.of(ctx.pathParam("tenant")), PoolName.of(ctx.pathParam("pool")));
    }

    static RolloutView view(RolloutService.Progress p) {
        PoolRollout r = p.rollout();
        return new RolloutView(r.pool().tenant().value(), r.pool().name().value(), r.template().isEmpty() ? null
                : r.template(), r.status(), r.reason().orElse(null), p.target().orElse(null),
                r.pinnedRevision().orElse(null), r.pinnedRevision().isEmpty(), r.previousRevision().orElse(null),
                r.maxUnavailable(), r.replaced(), p.onTarget(), p.old(), p.pending(), p.total(),
                r.startedAt().orElse(null), r.updatedAt());
    }
}
