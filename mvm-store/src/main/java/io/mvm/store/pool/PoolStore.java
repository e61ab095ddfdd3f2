package io.mvm.store.pool;

import io.mvm.core.liveness.OnNodeLost;
import io.mvm.core.pool.TargetCounts;
import io.mvm.model.PoolName;
import io.mvm.model.PoolRef;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.store.db.Tx;
import io.mvm.store.json.JsonColumns;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Pool rows, always addressed within a tenant. */
public final class PoolStore {
    private static final String COLUMNS = "tenant_id, name, role, profile, flake, template, vcpus, memory_mib, "
            + "data_disk_mib, want_running, want_warm, want_sleeping, want_stopped, revision, version, created_at, updated_at, "
            + "cmd, env, secrets, config_files, on_node_lost, restart_workload";

    public Optional<Pool> find(Tx tx, PoolRef ref) throws SQLException {
        return tx.one("SELECT " + COLUMNS + " FROM pools WHERE tenant_id = ? AND name = ?", PoolStore::map,
                ref.tenant().value(), ref.name().value());
    }

    public List<Pool> list(Tx tx, TenantId tenant) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM pools WHERE tenant_id = ? ORDER BY name", PoolStore::map,
                tenant.value());
    }

    /** Up to {@code limit} of the tenant's pools named after {@code after} (keyset paging in name order). */
    public List<Pool> page(Tx tx, TenantId tenant, Optional<String> after, int limit) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM pools WHERE tenant_id = ? AND name > ? ORDER BY name LIMIT ?",
                PoolStore::map, tenant.value(), after.orElse(""), limit);
    }

    /** The pools of these tenants, in one query (a page of tenants shows each one's usage). */
    public List<Pool> listOf(Tx tx, java.util.Collection<TenantId> tenants) throws SQLException {
        if (tenants.isEmpty()) {
            return List.of();
        }
        String marks = String.join(", ", java.util.Collections.nCopies(tenants.size(), "?"));
        return tx.query("SELECT " + COLUMNS + " FROM pools WHERE tenant_id IN (" + marks + ") ORDER BY tenant_id, name",
                PoolStore::map, tenants.stream().map(TenantId::value).toArray());
    }

    public void insert(Tx tx, Pool p) throws SQLException {
        tx.update("INSERT INTO pools (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                p.ref().tenant().value(), p.ref().name().value(), p.role().wireName(), p.profile(), p.flake(),
                p.template().orElse(null), p.vcpus(), p.memoryMib(), p.dataDiskMib(), p.counts().running(),
                p.counts().warm(), p.counts().sleeping(), p.counts().stopped(), p.revision(), p.version(),
                p.createdAt().toEpochMilli(), p.updatedAt().toEpochMilli(), JsonColumns.write(p.workload().cmd()),
                JsonColumns.write(p.workload().env()), JsonColumns.write(p.workload().secrets()),
                JsonColumns.write(p.workload().configFiles()), p.onNodeLost().wireName(),
                p.workload().restartOnExit() ? 1 : 0);
    }

    /** Writes {@code p} if the row is still at {@code expectedVersion}; false when someone else got there first. */
    public boolean update(Tx tx, Pool p, long expectedVersion) throws SQLException {
        return tx.update("UPDATE pools SET template = ?, vcpus = ?, memory_mib = ?, data_disk_mib = ?, want_running = ?, "
                        + "want_warm = ?, want_sleeping = ?, want_stopped = ?, revision = ?, version = ?, updated_at = ?, "
                        + "cmd = ?, env = ?, secrets = ?, config_files = ?, on_node_lost = ?, restart_workload = ? "
                        + "WHERE tenant_id = ? AND name = ? AND version = ?",
                p.template().orElse(null), p.vcpus(), p.memoryMib(), p.dataDiskMib(), p.counts().running(),
                p.counts().warm(), p.counts().sleeping(), p.counts().stopped(), p.revision(), p.version(),
                p.updatedAt().toEpochMilli(), JsonColumns.write(p.workload().cmd()), JsonColumns.write(p.workload().env()),
                JsonColumns.write(p.workload().secrets()), JsonColumns.write(p.workload().configFiles()),
                p.onNodeLost().wireName(), p.workload().restartOnExit() ? 1 : 0, p.ref().tenant().value(),
                p.ref().name().value(), expectedVersion) == 1;
    }

    public void delete(Tx tx, PoolRef ref) throws SQLException {
        tx.update("DELETE FROM pools WHERE tenant_id = ? AND name = ?", ref.tenant().value(), ref.name().value());
    }

    /** Every pool of every tenant (the scheduler's view). */
    public List<Pool> listAll(Tx tx) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM pools ORDER BY tenant_id, name", PoolStore::map);
    }

    public long count(Tx tx) throws SQLException {
        return tx.count("SELECT COUNT(*) FROM pools");
    }

    private static Pool map(ResultSet rs) throws SQLException {
        return new Pool(new PoolRef(TenantId.of(rs.getString("tenant_id")), PoolName.of(rs.getString("name"))),
                Role.parse(rs.getString("role")), rs.getString("profile"), rs.getString("flake"),
                Optional.ofNullable(rs.getString("template")), rs.getInt("vcpus"), rs.getLong("memory_mib"),
                rs.getLong("data_disk_mib"),
                new TargetCounts(rs.getInt("want_running"), rs.getInt("want_warm"), rs.getInt("want_sleeping"),
                        rs.getInt("want_stopped")),
                rs.getLong("revision"), rs.getLong("version"), Instant.ofEpochMilli(rs.getLong("created_at")),
                Instant.ofEpochMilli(rs.getLong("updated_at")),
                new Workload(JsonColumns.list(rs.getString("cmd")), JsonColumns.map(rs.getString("env")),
                        JsonColumns.map(rs.getString("secrets")), JsonColumns.map(rs.getString("config_files")),
                        rs.getInt("restart_workload") != 0),
                OnNodeLost.parse(rs.getString("on_node_lost")));
    }
}
