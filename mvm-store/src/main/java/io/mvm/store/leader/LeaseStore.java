package io.mvm.store.leader;

import io.mvm.store.db.Dialect;
import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Optional;

/**
 * The leader lease rows. Every change is a compare-and-set on the row's epoch (and, for a
 * takeover, on the renewal the candidate saw), so two candidates can never both win one epoch.
 */
public final class LeaseStore {

    public Optional<Lease> find(Tx tx, String name) throws SQLException {
        return tx.one("SELECT name, holder, epoch, acquired_at, renewed_at, expires_at FROM leader_lease WHERE name = ?",
                LeaseStore::map, name);
    }

    /** Extends the holder's lease; false when the row is no longer this holder's at this epoch. */
    public boolean renew(Tx tx, String name, String holder, long epoch, Instant now, Instant expires)
            throws SQLException {
        return tx.update("UPDATE leader_lease SET renewed_at = ?, expires_at = ? WHERE name = ? AND holder = ? AND epoch = ?",
                now.toEpochMilli(), expires.toEpochMilli(), name, holder, epoch) == 1;
    }

    /**
     * Takes the lease at {@code seen.epoch() + 1} if the row is still exactly as the candidate saw
     * it; returns the new epoch, or empty when someone else moved it first.
     */
    public Optional<Long> takeOver(Tx tx, Lease seen, String candidate, Instant now, Instant expires)
            throws SQLException {
        long next = seen.epoch() + 1;
        int n = tx.update("UPDATE leader_lease SET holder = ?, epoch = ?, acquired_at = ?, renewed_at = ?, expires_at = ?"
                        + " WHERE name = ? AND epoch = ? AND COALESCE(holder, '') = ? AND COALESCE(renewed_at, -1) = ?",
                candidate, next, now.toEpochMilli(), now.toEpochMilli(), expires.toEpochMilli(), seen.name(),
                seen.epoch(), seen.holder().orElse(""), seen.renewedAt().map(Instant::toEpochMilli).orElse(-1L));
        return n == 1 ? Optional.of(next) : Optional.empty();
    }

    /** Gives the lease up (a clean stop): the next candidate need not wait for it to expire. */
    public boolean resign(Tx tx, String name, String holder, long epoch, Instant now) throws SQLException {
        return tx.update("UPDATE leader_lease SET holder = NULL, expires_at = ? WHERE name = ? AND holder = ? AND epoch = ?",
                now.toEpochMilli(), name, holder, epoch) == 1;
    }

    /**
     * Whether {@code holder} still holds the lease at {@code epoch}, read so that a takeover cannot
     * commit between this read and the end of the caller's transaction (PostgreSQL: a share lock on
     * the row, which a takeover's update waits for; SQLite: writers are serialised already).
     */
    public boolean holds(Tx tx, String name, String holder, long epoch) throws SQLException {
        String lock = tx.dialect() == Dialect.POSTGRESQL ? " FOR SHARE" : "";
        return tx.one("SELECT holder, epoch FROM leader_lease WHERE name = ?" + lock,
                rs -> holder.equals(rs.getString(1)) && rs.getLong(2) == epoch, name).orElse(false);
    }

    private static Lease map(ResultSet rs) throws SQLException {
        return new Lease(rs.getString("name"), Optional.ofNullable(rs.getString("holder")), rs.getLong("epoch"),
                instant(rs, "acquired_at"), instant(rs, "renewed_at"), instant(rs, "expires_at"));
    }

    private static Optional<Instant> instant(ResultSet rs, String column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(v));
    }
}
