package io.mvm.coordinator.http;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.mvm.coordinator.auth.Access;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.auth.Principal;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.TenantId;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Registers routes together with the access each needs, so the permission of every route is
 * written where the route is, and collected in one table ({@link #rules()}) that tests walk.
 * Every request is checked against its route's rule before its handler runs; no route is
 * protected by a path pattern alone.
 */
final class GuardedRoutes {
    /** Where the resource's tenant (or node) comes from, for tenant- and node-scoped access. */
    enum Scope { NONE, PATH_TENANT, PATH_NODE, INSTANCE, JOB, CALLERS_TENANT }

    /** One route's rule. */
    record Rule(String method, String path, Access access, Scope scope) {}

    /** Finds the tenant a resource belongs to (404 when the resource does not exist). */
    interface TenantResolver {
        Optional<TenantId> tenantOf(Scope scope, Context ctx);
    }

    /** Records a refusal in the audit trail (bounded there). */
    interface DenialAudit {
        void denied(Optional<TenantId> tenant, String request, String reason);
    }

    private final RoutesConfig routes;
    private final TenantResolver resolver;
    private final DenialAudit audit;
    private final List<Rule> rules = new ArrayList<>();

    GuardedRoutes(RoutesConfig routes, TenantResolver resolver, DenialAudit audit) {
        this.routes = routes;
        this.resolver = resolver;
        this.audit = audit;
    }

    List<Rule> rules() {
        return List.copyOf(rules);
    }

    void get(String path, Access access, Scope scope, Handler handler) {
        rules.add(new Rule("GET", path, access, scope));
        routes.get(path, guarded(access, scope, handler));
    }

    void post(String path, Access access, Scope scope, Handler handler) {
        rules.add(new Rule("POST", path, access, scope));
        routes.post(path, guarded(access, scope, handler));
    }

    void put(String path, Access access, Scope scope, Handler handler) {
        rules.add(new Rule("PUT", path, access, scope));
        routes.put(path, guarded(access, scope, handler));
    }

    void patch(String path, Access access, Scope scope, Handler handler) {
        rules.add(new Rule("PATCH", path, access, scope));
        routes.patch(path, guarded(access, scope, handler));
    }

    void delete(String path, Access access, Scope scope, Handler handler) {
        rules.add(new Rule("DELETE", path, access, scope));
        routes.delete(path, guarded(access, scope, handler));
    }

    private Handler guarded(Access access, Scope scope, Handler handler) {
        return ctx -> {
            if (access != Access.PUBLIC) {
                Caller caller = ApiServer.caller(ctx);
                // Only a tenant token's access depends on whose the resource is; nobody else makes
                // the coordinator look it up (so a refused caller learns nothing of its existence).
                Optional<TenantId> tenant = switch (scope) {
                    case CALLERS_TENANT -> caller.tenant();
                    case INSTANCE, JOB -> caller.principal() instanceof Principal.TenantMember
                            ? resolver.tenantOf(scope, ctx) : Optional.empty();
                    default -> resolver.tenantOf(scope, ctx);
                };
                Optional<NodeId> node = scope == Scope.PATH_NODE ? Optional.of(NodeId.of(ctx.pathParam("node")))
                        : Optional.empty();
                Optional<String> denial = access.decide(caller.principal(), tenant, node);
                if (denial.isPresent()) {
                    audit.denied(tenant, ctx.method().name() + " " + ctx.path(), caller.actor() + ": " + denial.get());
                    throw new MvmException(ErrorCategory.PERMISSION_DENIED, denial.get());
                }
            }
            handler.handle(ctx);
        };
    }
}
