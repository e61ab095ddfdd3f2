package io.mvm.store.tenant;

import io.mvm.core.network.Ipv4Cidr;
import io.mvm.core.pool.TenantQuota;
import io.mvm.model.TenantId;
import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Tenant rows. Callers own the transaction; uniqueness of id, net id and subnet is the schema's job. */
public final class TenantStore {
    private static final String COLUMNS =
            "id, net_id, subnet, max_vcpus, max_memory_mib, max_instances, version, created_at, updated_at";

    public Optional<Tenant> find(Tx tx, TenantId id) throws SQLException {
        return tx.one("SELECT " + COLUMNS + " FROM tenants WHERE id = ?", TenantStore::map, id.value());
    }

    /** Reads the tenant and, on PostgreSQL, locks its row: every write inside one tenant goes through here. */
    public Optional<Tenant> lock(Tx tx, TenantId id) throws SQLException {
        return tx.one("SELECT " + COLUMNS + " FROM tenants WHERE id = ?" + tx.dialect().forUpdate(), TenantStore::map,
                id.value());
    }

    public List<Tenant> list(Tx tx) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM tenants ORDER BY id", TenantStore::map);
    }

    /** Up to {@code limit} tenants with ids after {@code after} (keyset paging in id order). */
    public List<Tenant> page(Tx tx, Optional<String> after, int limit) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM tenants WHERE id > ? ORDER BY id LIMIT ?", TenantStore::map,
                after.orElse(""), limit);
    }

    public Set<Integer> usedNetIds(Tx tx) throws SQLException {
        return new HashSet<>(tx.query("SELECT net_id FROM tenants", rs -> rs.getInt(1)));
    }

    public void insert(Tx tx, Tenant t) throws SQLException {
        tx.update("INSERT INTO tenants (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                t.id().value(), t.netId(), t.subnet().toString(), t.quota().maxVcpus(), t.quota().maxMemoryMib(),
                t.quota().maxInstances(), t.version(), t.createdAt().toEpochMilli(), t.updatedAt().toEpochMilli());
    }

    public void delete(Tx tx, TenantId id) throws SQLException {
        tx.update("DELETE FROM tenants WHERE id = ?", id.value());
    }

    /** Bumps the version (children changed under this tenant); returns the new version. */
    public long touch(Tx tx, Tenant t, Instant now) throws SQLException {
        tx.update("UPDATE tenants SET version = ?, updated_at = ? WHERE id = ?", t.version() + 1, now.toEpochMilli(),
                t.id().value());
        return t.version() + 1;
    }

    public long count(Tx tx) throws SQLException {
        return tx.count("SELECT COUNT(*) FROM tenants");
    }

    private static Tenant map(ResultSet rs) throws SQLException {
        return new Tenant(TenantId.of(rs.getString("id")), rs.getInt("net_id"), Ipv4Cidr.parse(rs.getString("subnet")),
                new TenantQuota(rs.getInt("max_vcpus"), rs.getLong("max_memory_mib"), rs.getInt("max_instances")),
                rs.getLong("version"), Instant.ofEpochMilli(rs.getLong("created_at")),
                Instant.ofEpochMilli(rs.getLong("updated_at")));
    }
}
