package io.mvm.coordinator.http;

import io.mvm.coordinator.auth.Access;
import io.mvm.coordinator.http.GuardedRoutes.Scope;
import io.mvm.coordinator.leader.ClusterStatus;
import java.time.Instant;
import java.util.List;

/**
 * {@code GET /v1/coordinators} (admin): the coordinators sharing this database, which one leads
 * and since when, and the lease epoch ({@code mvm coordinator status}).
 */
final class CoordinatorsRoutes {
    private final ClusterStatus status;
    private final VmsRoutes.JsonWriter json;

    CoordinatorsRoutes(ClusterStatus status, VmsRoutes.JsonWriter json) {
        this.status = status;
        this.json = json;
    }

    record CoordinatorView(String id, String address, Instant startedAt, Instant lastSeen, boolean leader,
                           boolean stale) {}

    record LeaseView(String leader, long epoch, Instant leaderSince, Instant renewedAt, Instant expiresAt,
                     long leaseMillis) {}

    record StatusView(String answeredBy, LeaseView lease, List<CoordinatorView> items) {}

    void register(GuardedRoutes g) {
        g.get("/v1/coordinators", Access.ADMIN, Scope.NONE, ctx -> {
            ClusterStatus.Snapshot s = status.snapshot();
            var l = s.lease();
            json.write(ctx, 200, new StatusView(s.answeredBy(),
                    new LeaseView(l.holder().orElse(null), l.epoch(),
                            l.holder().isPresent() ? l.acquiredAt().orElse(null) : null, l.renewedAt().orElse(null),
                            l.expiresAt().orElse(null), s.leaseDuration().toMillis()),
                    s.members().stream().map(m -> new CoordinatorView(m.record().id(), m.record().address(),
                            m.record().startedAt(), m.record().lastSeen(), m.leader(), m.stale())).toList()));
        });
    }
}
