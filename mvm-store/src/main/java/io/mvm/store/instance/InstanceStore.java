package io.mvm.store.instance;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.NodeId;
import io.mvm.model.PoolName;
import io.mvm.model.PoolRef;
import io.mvm.model.TenantId;
import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Instance rows. */
public final class InstanceStore {
    private static final String COLUMNS = "id, tenant_id, pool_name, desired_state, state, node_id, ip, revision, "
            + "last_error, version, created_at, updated_at";

    public Optional<Instance> find(Tx tx, InstanceId id) throws SQLException {
        return tx.one("SELECT " + COLUMNS + " FROM instances WHERE id = ?", InstanceStore::map, id.value());
    }

    public List<Instance> listByTenant(Tx tx, TenantId tenant) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM instances WHERE tenant_id = ? ORDER BY pool_name, created_at, id",
                InstanceStore::map, tenant.value());
    }

    public List<Instance> listByPool(Tx tx, PoolRef pool) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM instances WHERE tenant_id = ? AND pool_name = ? ORDER BY created_at, id",
                InstanceStore::map, pool.tenant().value(), pool.name().value());
    }

    public Set<String> usedIps(Tx tx, TenantId tenant) throws SQLException {
        return new HashSet<>(tx.query("SELECT ip FROM instances WHERE tenant_id = ?", rs -> rs.getString(1), tenant.value()));
    }

    public void insert(Tx tx, Instance i) throws SQLException {
        tx.update("INSERT INTO instances (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                i.id().value(), i.pool().tenant().value(), i.pool().name().value(), i.desired().wireName(),
                i.state().wireName(), i.node().map(NodeId::value).orElse(null), i.ip(), i.revision(),
                i.lastError().orElse(null), i.version(), i.createdAt().toEpochMilli(), i.updatedAt().toEpochMilli());
    }

    /** Writes the intent fields if the row is still at {@code expectedVersion}. */
    public boolean updateIntent(Tx tx, Instance i, long expectedVersion) throws SQLException {
        return tx.update("UPDATE instances SET desired_state = ?, revision = ?, version = ?, updated_at = ? "
                        + "WHERE id = ? AND version = ?",
                i.desired().wireName(), i.revision(), i.version(), i.updatedAt().toEpochMilli(), i.id().value(),
                expectedVersion) == 1;
    }

    public void delete(Tx tx, InstanceId id) throws SQLException {
        tx.update("DELETE FROM instances WHERE id = ?", id.value());
    }

    public long count(Tx tx) throws SQLException {
        return tx.count("SELECT COUNT(*) FROM instances");
    }

    private static Instance map(ResultSet rs) throws SQLException {
        return new Instance(InstanceId.of(rs.getString("id")),
                new PoolRef(TenantId.of(rs.getString("tenant_id")), PoolName.of(rs.getString("pool_name"))),
                DesiredState.parse(rs.getString("desired_state")), InstanceState.parse(rs.getString("state")),
                Optional.ofNullable(rs.getString("node_id")).map(NodeId::of), rs.getString("ip"), rs.getLong("revision"),
                Optional.ofNullable(rs.getString("last_error")), rs.getLong("version"),
                Instant.ofEpochMilli(rs.getLong("created_at")), Instant.ofEpochMilli(rs.getLong("updated_at")));
    }
}
