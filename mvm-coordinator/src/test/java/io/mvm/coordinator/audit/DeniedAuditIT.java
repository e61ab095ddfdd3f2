package io.mvm.coordinator.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.coordinator.testing.ManualClock;
import io.mvm.model.TenantId;
import io.mvm.store.audit.AuditEntry;
import io.mvm.store.audit.AuditStore;
import io.mvm.store.db.Database;
import io.mvm.store.db.DatabaseUrl;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Refused requests are audited on a real SQLite database, but a flood of them cannot turn into a
 * flood of write transactions: the trail records a bounded number per second and says how many it
 * left out.
 */
class DeniedAuditIT {
    private static final TenantId TENANT = TenantId.of("acme");

    @TempDir
    Path tmp;

    @Test
    void aFloodOfRefusedRequestsIsRecordedBoundedAndCounted() {
        ManualClock clock = new ManualClock(Instant.parse("2026-11-22T00:00:00Z"));
        try (Database db = Database.open(new DatabaseUrl.Sqlite(tmp.resolve("mvm.db")))) {
            AuditTrail trail = new AuditTrail(db, new AuditStore(), clock);
            for (int i = 0; i < 500; i++) {
                trail.denied(Optional.of(TENANT), "GET /v1/tenants/acme", "missing bearer token");
            }
            List<AuditEntry> firstSecond = trail.page(TENANT, 0, AuditTrail.MAX_PAGE);
            assertThat(firstSecond).hasSize(AuditTrail.MAX_DENIED_PER_SECOND);
            assertThat(firstSecond).allSatisfy(e -> {
                assertThat(e.action()).isEqualTo("auth.denied");
                assertThat(e.actor()).isEqualTo("anonymous");
            });

            clock.advance(Duration.ofSeconds(1));
            trail.denied(Optional.of(TENANT), "GET /v1/tenants/acme", "missing bearer token");
            List<AuditEntry> all = trail.page(TENANT, 0, AuditTrail.MAX_PAGE);
            assertThat(all).hasSize(AuditTrail.MAX_DENIED_PER_SECOND + 1);
            assertThat(all.getLast().outcome())
                    .isEqualTo("missing bearer token (and 480 earlier refused requests not recorded one by one)");

            trail.denied(Optional.of(TENANT), "GET /v1/tenants/acme", "wrong token");
            assertThat(trail.page(TENANT, 0, AuditTrail.MAX_PAGE).getLast().outcome()).isEqualTo("wrong token");
        }
    }
}
