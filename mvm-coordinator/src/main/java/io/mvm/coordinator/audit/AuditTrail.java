package io.mvm.coordinator.audit;

import io.mvm.coordinator.auth.Caller;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import io.mvm.store.audit.AuditEntry;
import io.mvm.store.audit.AuditStore;
import io.mvm.store.db.Database;
import io.mvm.store.db.Tx;
import java.sql.SQLException;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;

/** Writes audit lines inside the caller's transaction, and pages through a tenant's trail. */
public final class AuditTrail {
    public static final int MAX_PAGE = 1000;
    /** Refused requests recorded per second at most; see {@link #denied}. */
    public static final int MAX_DENIED_PER_SECOND = 20;

    private final Database db;
    private final AuditStore store;
    private final InstantSource clock;

    public AuditTrail(Database db, AuditStore store, InstantSource clock) {
        this.db = db;
        this.store = store;
        this.clock = clock;
    }

    public void changed(Tx tx, Caller caller, TenantId tenant, String action, String resource, Long before, Long after)
            throws SQLException {
        store.append(tx, Optional.of(tenant), clock.instant(), caller.actor(), action, resource, before, after, "ok");
    }

    /** A change to something of the cluster's rather than a tenant's (e.g. a node token), in the caller's transaction. */
    public void clusterChanged(Tx tx, Caller caller, String action, String resource) throws SQLException {
        store.append(tx, Optional.empty(), clock.instant(), caller.actor(), action, resource, null, null, "ok");
    }

    /**
     * A refused authentication; in its own transaction since the request itself does nothing.
     * Anyone can send refused requests, and each would take the database's write lock, so at most
     * {@link #MAX_DENIED_PER_SECOND} are recorded per second; the number left out is carried into
     * the next recorded one, so the trail still says how many there were.
     */
    public void denied(Optional<TenantId> tenant, String resource, String reason) {
        long notRecordedBefore;
        synchronized (deniedWindow) {
            long second = clock.instant().getEpochSecond();
            if (second != deniedWindow.second) {
                deniedWindow.second = second;
                deniedWindow.recorded = 0;
            }
            if (deniedWindow.recorded >= MAX_DENIED_PER_SECOND) {
                deniedWindow.notRecorded++;
                return;
            }
            deniedWindow.recorded++;
            notRecordedBefore = deniedWindow.notRecorded;
            deniedWindow.notRecorded = 0;
        }
        String outcome = notRecordedBefore == 0 ? reason
                : reason + " (and " + notRecordedBefore + " earlier refused requests not recorded one by one)";
        db.inTransaction(tx -> {
            store.append(tx, tenant, clock.instant(), "anonymous", "auth.denied", resource, null, null, outcome);
            return null;
        });
    }

    private final DeniedWindow deniedWindow = new DeniedWindow();

    /** The current second's count of recorded refusals, and how many were left out since the last recorded one. */
    private static final class DeniedWindow {
        long second = Long.MIN_VALUE;
        int recorded;
        long notRecorded;
    }

    /**
     * Access that changes no intent but reaches into a tenant's guest (exec, logs); in its own
     * transaction. {@code what} names the program, never its arguments, which may carry secrets.
     */
    public void accessed(Caller caller, TenantId tenant, String action, String what, String outcome) {
        db.inTransaction(tx -> {
            store.append(tx, Optional.of(tenant), clock.instant(), caller.actor(), action, what, null, null, outcome);
            return null;
        });
    }

    /** A cluster-wide event outside any other transaction (a node certificate issued). */
    public void clusterEvent(Caller caller, String action, String resource) {
        db.inTransaction(tx -> {
            clusterChanged(tx, caller, action, resource);
            return null;
        });
    }

    /**
     * Applies the retention: entries older than {@code maxAge} go, then all but the newest
     * {@code maxRows}. Returns how many went (housekeeping runs it).
     */
    public int prune(java.time.Duration maxAge, long maxRows) {
        return db.inTransaction(tx -> store.pruneOlderThan(tx, clock.instant().minus(maxAge))
                + store.pruneBeyond(tx, maxRows));
    }

    public List<AuditEntry> page(TenantId tenant, long afterSeq, int limit) {
        checkPage(afterSeq, limit);
        return db.read(tx -> store.page(tx, tenant, afterSeq, limit));
    }

    /** The cluster's own trail: what belongs to no tenant (node tokens, refused requests outside any tenant). */
    public List<AuditEntry> clusterPage(long afterSeq, int limit) {
        checkPage(afterSeq, limit);
        return db.read(tx -> store.clusterPage(tx, afterSeq, limit));
    }

    private static void checkPage(long afterSeq, int limit) {
        if (limit < 1 || limit > MAX_PAGE) {
            throw MvmException.invalid("limit must be 1-" + MAX_PAGE + ", got " + limit);
        }
        if (afterSeq < 0) {
            throw MvmException.invalid("after must not be negative, got " + afterSeq);
        }
    }
}
