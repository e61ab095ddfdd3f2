package io.mvm.store.leader;

import io.mvm.store.db.Tx;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;

/** The coordinators sharing this database, each refreshing its own row while it runs. */
public final class CoordinatorStore {

    public void register(Tx tx, String id, String address, Instant startedAt) throws SQLException {
        tx.update("INSERT INTO coordinators (id, address, started_at, last_seen) VALUES (?, ?, ?, ?)"
                        + " ON CONFLICT (id) DO UPDATE SET address = excluded.address, started_at = excluded.started_at,"
                        + " last_seen = excluded.last_seen",
                id, address, startedAt.toEpochMilli(), startedAt.toEpochMilli());
    }

    public void seen(Tx tx, String id, Instant at) throws SQLException {
        tx.update("UPDATE coordinators SET last_seen = ? WHERE id = ?", at.toEpochMilli(), id);
    }

    public void remove(Tx tx, String id) throws SQLException {
        tx.update("DELETE FROM coordinators WHERE id = ?", id);
    }

    /** Forgets coordinators silent since before {@code cutoff} (killed ones never deregister). */
    public int prune(Tx tx, Instant cutoff) throws SQLException {
        return tx.update("DELETE FROM coordinators WHERE last_seen < ?", cutoff.toEpochMilli());
    }

    public List<CoordinatorRecord> list(Tx tx) throws SQLException {
        return tx.query("SELECT id, address, started_at, last_seen FROM coordinators ORDER BY started_at, id",
                rs -> new CoordinatorRecord(rs.getString(1), rs.getString(2), Instant.ofEpochMilli(rs.getLong(3)),
                        Instant.ofEpochMilli(rs.getLong(4))));
    }
}
