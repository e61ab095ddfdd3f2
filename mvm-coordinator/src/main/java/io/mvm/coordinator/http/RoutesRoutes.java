package io.mvm.coordinator.http;

import io.javalin.http.Context;
import io.mvm.coordinator.auth.Access;
import io.mvm.coordinator.http.GuardedRoutes.Scope;
import io.mvm.coordinator.node.NodeService;
import io.mvm.coordinator.pool.PoolService;
import io.mvm.core.scale.Exposure;
import io.mvm.core.scale.IdlePolicy;
import io.mvm.core.scale.PortMapping;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import io.mvm.store.route.RouteStore;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Scale to zero at the HTTP edge (issue 13): {@code GET /v1/routes} lists the routes nodes report
 * serving, and the pool bodies' {@code ports} and {@code idle} are translated here. Translation
 * only; the rules live in {@link NodeService}, {@link PoolService} and {@code io.mvm.core.scale}.
 */
final class RoutesRoutes {
    private final NodeService nodes;
    private final VmsRoutes.JsonWriter json;

    RoutesRoutes(NodeService nodes, VmsRoutes.JsonWriter json) {
        this.nodes = nodes;
        this.json = json;
    }

    /** A route as listed: {@code host_port} null (with {@code error}) when the node could not bind it. */
    record RouteView(String instance, String tenant, String pool, String node, String desiredState, String state,
                     String target, int guestPort, Integer hostPort, String protocol, String error) {}

    void register(GuardedRoutes g) {
        g.get("/v1/routes", Access.TENANT_LIST, Scope.NONE, this::list);
    }

    private void list(Context ctx) {
        Optional<TenantId> tenant = Optional.ofNullable(ctx.queryParam("tenant")).filter(t -> !t.isBlank())
                .map(TenantId::of);
        Paging.Request req = Paging.request(ctx);
        json.write(ctx, 200, Paging.listOf(ctx, Paging.slice(nodes.routes(ApiServer.caller(ctx), tenant), req,
                r -> r.instance().value() + "/" + "%05d".formatted(r.guestPort()) + "/" + r.protocol()),
                RoutesRoutes::view));
    }

    private static RouteView view(RouteStore.RouteRow r) {
        return new RouteView(r.instance().value(), r.tenant().value(), r.pool().value(), r.node().orElse(null),
                r.desiredState(), r.state(), r.ip() + ":" + r.guestPort(), r.guestPort(),
                r.hostPort().isPresent() ? r.hostPort().getAsInt() : null, r.protocol(), r.error().orElse(null));
    }

    /** The routes of an observed report (agent protocol); absent means none. */
    static List<RouteStore.Reported> reported(List<Requests.ObservedRoute> routes) {
        if (routes == null) {
            return List.of();
        }
        return routes.stream().map(r -> new RouteStore.Reported(ApiServer.required(r.guestPort(), "routes.guest_port"),
                r.protocol() == null ? PortMapping.TCP : r.protocol(),
                r.hostPort() == null ? OptionalInt.empty() : OptionalInt.of(r.hostPort()),
                Optional.ofNullable(r.error()).map(e -> e.length() <= 500 ? e : e.substring(0, 500) + "…"))).toList();
    }

    static Optional<List<PortMapping>> ports(List<Requests.Port> ports) {
        return Optional.ofNullable(ports).map(list -> list.stream().map(p -> {
            if (p == null) {
                throw MvmException.invalid("ports must not contain null");
            }
            return new PortMapping(ApiServer.required(p.guest(), "ports.guest"), p.host() == null ? 0 : p.host(),
                    p.protocol());
        }).toList());
    }

    /** Absent: unchanged; {@code {}}: no policy; otherwise the policy with defaults for absent fields. */
    static Optional<Optional<IdlePolicy>> idle(Requests.Idle idle) {
        if (idle == null) {
            return Optional.empty();
        }
        if (idle.warmAfter() == null && idle.sleepAfter() == null && idle.minRuntime() == null
                && idle.cpuThreshold() == null) {
            return Optional.of(Optional.empty());
        }
        var d = IdlePolicy.DEFAULTS;
        return Optional.of(Optional.of(new IdlePolicy(
                idle.warmAfter() == null ? d.warmAfter() : IdlePolicy.parseDuration("warm_after", idle.warmAfter()),
                idle.sleepAfter() == null ? d.sleepAfter() : IdlePolicy.parseDuration("sleep_after", idle.sleepAfter()),
                idle.minRuntime() == null ? d.minRuntime() : IdlePolicy.parseDuration("min_runtime", idle.minRuntime()),
                idle.cpuThreshold() == null ? d.cpuThreshold() : idle.cpuThreshold())));
    }

    /** What a pool create body asks for. */
    static Exposure exposure(List<Requests.Port> ports, Requests.Idle idle) {
        return new Exposure(ports(ports).orElse(List.of()), idle(idle).flatMap(i -> i));
    }
}
