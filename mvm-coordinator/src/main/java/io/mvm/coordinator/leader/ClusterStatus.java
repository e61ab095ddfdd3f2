package io.mvm.coordinator.leader;

import io.mvm.store.db.Database;
import io.mvm.store.leader.CoordinatorRecord;
import io.mvm.store.leader.CoordinatorStore;
import io.mvm.store.leader.Lease;
import io.mvm.store.leader.LeaseStore;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;

/** What {@code GET /v1/coordinators} shows: the registered coordinators and the leader lease. */
public final class ClusterStatus {
    private final Database db;
    private final InstantSource clock;
    private final Duration lease;
    private final String self;
    private final LeaseStore leases = new LeaseStore();
    private final CoordinatorStore coordinators = new CoordinatorStore();

    public ClusterStatus(Database db, InstantSource clock, Duration lease, String self) {
        this.db = db;
        this.clock = clock;
        this.lease = lease;
        this.self = self;
    }

    /**
     * @param stale the coordinator has not refreshed its row for longer than a lease (killed, or cut
     *              off from the database)
     */
    public record Member(CoordinatorRecord record, boolean leader, boolean stale) {}

    public record Snapshot(String answeredBy, Lease lease, Duration leaseDuration, List<Member> members) {}

    public Snapshot snapshot() {
        Instant now = clock.instant();
        return db.read(tx -> {
            Lease l = leases.find(tx, LeaseElection.LEASE).orElseThrow();
            List<Member> members = coordinators.list(tx).stream()
                    .map(c -> new Member(c, l.holder().map(c.id()::equals).orElse(false),
                            c.lastSeen().plus(lease).isBefore(now)))
                    .toList();
            return new Snapshot(self, l, lease, members);
        });
    }
}
