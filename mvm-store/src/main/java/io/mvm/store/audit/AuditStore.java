package io.mvm.store.audit;

import io.mvm.model.TenantId;
import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Append-only audit rows, written in the same transaction as the change they describe. */
public final class AuditStore {

    public void append(Tx tx, Optional<TenantId> tenant, Instant at, String actor, String action, String resource,
                       Long beforeVersion, Long afterVersion, String outcome) throws SQLException {
        tx.update("INSERT INTO audit_log (tenant_id, at, actor, action, resource, before_version, after_version, outcome) "
                        + "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                tenant.map(TenantId::value).orElse(null), at.toEpochMilli(), actor, action, resource, beforeVersion,
                afterVersion, outcome);
    }

    /** A page of a tenant's trail, oldest first, starting after sequence number {@code afterSeq}. */
    /** Deletes entries older than {@code cutoff}; returns how many. */
    public int pruneOlderThan(Tx tx, Instant cutoff) throws SQLException {
        return tx.update("DELETE FROM audit_log WHERE at < ?", cutoff.toEpochMilli());
    }

    /** Keeps the newest {@code keep} entries, deleting the rest; returns how many went. */
    public int pruneBeyond(Tx tx, long keep) throws SQLException {
        return tx.update("DELETE FROM audit_log WHERE seq <= (SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1"
                + " OFFSET ?)", keep);
    }

    public List<AuditEntry> page(Tx tx, TenantId tenant, long afterSeq, int limit) throws SQLException {
        return tx.query("SELECT seq, tenant_id, at, actor, action, resource, before_version, after_version, outcome "
                        + "FROM audit_log WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                AuditStore::map, tenant.value(), afterSeq, limit);
    }

    /** A page of the cluster's own trail (rows without a tenant: node tokens, refusals outside any tenant). */
    public List<AuditEntry> clusterPage(Tx tx, long afterSeq, int limit) throws SQLException {
        return tx.query("SELECT seq, tenant_id, at, actor, action, resource, before_version, after_version, outcome "
                        + "FROM audit_log WHERE tenant_id IS NULL AND seq > ? ORDER BY seq LIMIT ?",
                AuditStore::map, afterSeq, limit);
    }

    private static AuditEntry map(ResultSet rs) throws SQLException {
        long before = rs.getLong("before_version");
        boolean beforeNull = rs.wasNull();
        long after = rs.getLong("after_version");
        boolean afterNull = rs.wasNull();
        return new AuditEntry(rs.getLong("seq"), Optional.ofNullable(rs.getString("tenant_id")),
                Instant.ofEpochMilli(rs.getLong("at")), rs.getString("actor"), rs.getString("action"),
                rs.getString("resource"), beforeNull ? Optional.empty() : Optional.of(before),
                afterNull ? Optional.empty() : Optional.of(after), rs.getString("outcome"));
    }
}
