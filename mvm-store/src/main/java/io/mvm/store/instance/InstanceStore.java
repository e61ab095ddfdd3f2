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
            + "last_error, version, created_at, updated_at, pid, accelerator, pending_reason";

    public Optional<Instance> find(Tx tx, InstanceId id) throws SQLException {
        return tx.one("SELECT " + COLUMNS + " FROM instances WHERE id = ?", InstanceStore::map, id.value());
    }

    public List<Instance> listByTenant(Tx tx, TenantId tenant) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM instances WHERE tenant_id = ? ORDER BY pool_name, created_at, id",
                InstanceStore::map, tenant.value());
    }

    /** What a user may narrow a tenant's instance list to; empty means any. */
    public record Filter(Optional<PoolName> pool, Optional<InstanceState> state, Optional<NodeId> node) {
        public static final Filter ANY = new Filter(Optional.empty(), Optional.empty(), Optional.empty());
    }

    /**
     * Up to {@code limit} of the tenant's instances matching the filter with ids after {@code after}:
     * keyset paging in id order, so an instance present for a whole walk is seen exactly once.
     */
    public List<Instance> page(Tx tx, TenantId tenant, Filter filter, Optional<String> after, int limit)
            throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM instances WHERE tenant_id = ? AND id > ?");
        List<Object> args = new java.util.ArrayList<>(List.of(tenant.value(), after.orElse("")));
        filter.pool().ifPresent(p -> {
            sql.append(" AND pool_name = ?");
            args.add(p.value());
        });
        filter.state().ifPresent(st -> {
            sql.append(" AND state = ?");
            args.add(st.wireName());
        });
        filter.node().ifPresent(n -> {
            sql.append(" AND node_id = ?");
            args.add(n.value());
        });
        sql.append(" ORDER BY id LIMIT ?");
        args.add(limit);
        return tx.query(sql.toString(), InstanceStore::map, args.toArray());
    }

    public List<Instance> listByPool(Tx tx, PoolRef pool) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM instances WHERE tenant_id = ? AND pool_name = ? ORDER BY created_at, id",
                InstanceStore::map, pool.tenant().value(), pool.name().value());
    }

    public Set<String> usedIps(Tx tx, TenantId tenant) throws SQLException {
        return new HashSet<>(tx.query("SELECT ip FROM instances WHERE tenant_id = ?", rs -> rs.getString(1), tenant.value()));
    }

    public void insert(Tx tx, Instance i) throws SQLException {
        tx.update("INSERT INTO instances (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                i.id().value(), i.pool().tenant().value(), i.pool().name().value(), i.desired().wireName(),
                i.state().wireName(), i.node().map(NodeId::value).orElse(null), i.ip(), i.revision(),
                i.lastError().orElse(null), i.version(), i.createdAt().toEpochMilli(), i.updatedAt().toEpochMilli(),
                i.pid().orElse(null), i.accelerator().orElse(null), i.pendingReason().orElse(null));
    }

    /** Writes the intent fields if the row is still at {@code expectedVersion}. */
    public boolean updateIntent(Tx tx, Instance i, long expectedVersion) throws SQLException {
        return tx.update("UPDATE instances SET desired_state = ?, revision = ?, version = ?, updated_at = ? "
                        + "WHERE id = ? AND version = ?",
                i.desired().wireName(), i.revision(), i.version(), i.updatedAt().toEpochMilli(), i.id().value(),
                expectedVersion) == 1;
    }

    /**
     * Moves a warm instance standing by into the pool that claimed it, with its address there and
     * its new intent (a claim); the VM, node and observed state stay. Conditional on the version, so
     * of two claims of one warm VM only one can win (the other retries and finds another).
     */
    public boolean adopt(Tx tx, InstanceId id, PoolRef into, String ip, DesiredState desired, long revision,
                         long expectedVersion, Instant now) throws SQLException {
        return tx.update("UPDATE instances SET tenant_id = ?, pool_name = ?, ip = ?, desired_state = ?, revision = ?, "
                        + "version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
                into.tenant().value(), into.name().value(), ip, desired.wireName(), revision, now.toEpochMilli(),
                id.value(), expectedVersion) == 1;
    }

    /** Deletes the record and its events: the instance is gone for good and its address is free again. */
    public void delete(Tx tx, InstanceId id) throws SQLException {
        tx.update("DELETE FROM instance_events WHERE instance_id = ?", id.value());
        tx.update("DELETE FROM instances WHERE id = ?", id.value());
    }

    /**
     * True when the instance sits on a lost node: nothing there can confirm its destruction, and
     * nothing needs to (an agent destroys whatever its complete desired list omits).
     */
    public boolean placedOnLostNode(Tx tx, InstanceId id) throws SQLException {
        return tx.count("SELECT COUNT(*) FROM instances i JOIN nodes n ON n.id = i.node_id "
                + "WHERE i.id = ? AND n.status = 'lost'", id.value()) > 0;
    }

    /** Every instance record of the fleet, for the scheduler. */
    public List<Instance> listAll(Tx tx) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM instances ORDER BY id", InstanceStore::map);
    }

    /** What the live (not destroyed) instances on each of these nodes take: vcpus, memory, disk and count. */
    public record NodeUse(int vcpus, long memoryMib, long diskMib, int count) {}

    public java.util.Map<NodeId, NodeUse> useOn(Tx tx, java.util.Collection<NodeId> nodes) throws SQLException {
        java.util.Map<NodeId, NodeUse> out = new java.util.HashMap<>();
        if (nodes.isEmpty()) {
            return out;
        }
        String marks = String.join(", ", java.util.Collections.nCopies(nodes.size(), "?"));
        for (var row : tx.query("SELECT i.node_id, SUM(p.vcpus), SUM(p.memory_mib), SUM(p.data_disk_mib), COUNT(*) "
                        + "FROM instances i JOIN pools p ON p.tenant_id = i.tenant_id AND p.name = i.pool_name "
                        + "WHERE i.desired_state <> 'destroyed' AND i.node_id IN (" + marks + ") GROUP BY i.node_id",
                rs -> java.util.Map.entry(NodeId.of(rs.getString(1)),
                        new NodeUse(rs.getInt(2), rs.getLong(3), rs.getLong(4), rs.getInt(5))),
                nodes.stream().map(NodeId::value).toArray())) {
            out.put(row.getKey(), row.getValue());
        }
        return out;
    }

    public List<Instance> listByNode(Tx tx, NodeId node) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM instances WHERE node_id = ? ORDER BY id", InstanceStore::map,
                node.value());
    }

    /** Records a placement decision: the node (or none) and why there is none. Not an intent change. */
    public void place(Tx tx, InstanceId id, Optional<NodeId> node, InstanceState state, Optional<String> pendingReason)
            throws SQLException {
        tx.update("UPDATE instances SET node_id = ?, state = ?, pending_reason = ?, evacuate_requested_at = NULL WHERE id = ?",
                node.map(NodeId::value).orElse(null), state.wireName(), pendingReason.orElse(null), id.value());
    }

    /** Records an operator's request to recreate the instance elsewhere; false when it does not exist. */
    public boolean requestEvacuation(Tx tx, InstanceId id, Instant at) throws SQLException {
        return tx.update("UPDATE instances SET evacuate_requested_at = ? WHERE id = ?", at.toEpochMilli(), id.value()) == 1;
    }

    /** Instances an operator asked to evacuate that have not moved yet. */
    public Set<InstanceId> evacuationsRequested(Tx tx) throws SQLException {
        return new HashSet<>(tx.query("SELECT id FROM instances WHERE evacuate_requested_at IS NOT NULL",
                rs -> InstanceId.of(rs.getString(1))));
    }

    public void setPendingReason(Tx tx, InstanceId id, Optional<String> reason) throws SQLException {
        tx.update("UPDATE instances SET pending_reason = ? WHERE id = ?", reason.orElse(null), id.value());
    }

    /** Stores what the instance's node observed, if the instance is still placed on that node. */
    public boolean observe(Tx tx, InstanceId id, NodeId node, InstanceState state, Optional<Long> pid,
                           Optional<String> accelerator, Optional<String> lastError, long at) throws SQLException {
        return tx.update("UPDATE instances SET state = ?, pid = ?, accelerator = ?, last_error = ?, observed_at = ? "
                        + "WHERE id = ? AND node_id = ?",
                state.wireName(), pid.orElse(null), accelerator.orElse(null), lastError.orElse(null), at, id.value(),
                node.value()) == 1;
    }

    /** A lost node's instances: their state is not known any more (destroyed ones stay destroyed). */
    public int markUnknownOn(Tx tx, NodeId node) throws SQLException {
        return tx.update("UPDATE instances SET state = 'unknown', pid = NULL WHERE node_id = ? AND state <> 'destroyed'",
                node.value());
    }

    /** Appends an event unless the same one is already stored (agents resend until acknowledged). */
    public boolean appendEvent(Tx tx, InstanceEvent e, PoolRef pool) throws SQLException {
        return tx.update("INSERT INTO instance_events (instance_id, tenant_id, at, type, message, node_id) "
                        + "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (instance_id, at, type, message) DO NOTHING",
                e.instance().value(), pool.tenant().value(), e.at().toEpochMilli(), e.type(), e.message(),
                e.node().value()) == 1;
    }

    /** Keeps only the newest {@code keep} events of an instance (a crash-looping VM must not grow the table without end). */
    public void pruneEvents(Tx tx, InstanceId id, int keep) throws SQLException {
        tx.update("DELETE FROM instance_events WHERE instance_id = ? AND id NOT IN "
                + "(SELECT id FROM instance_events WHERE instance_id = ? ORDER BY id DESC LIMIT ?)", id.value(), id.value(),
                keep);
    }

    /** The latest {@code limit} events of an instance, oldest first. */
    public List<InstanceEvent> events(Tx tx, InstanceId id, int limit) throws SQLException {
        List<InstanceEvent> newestFirst = tx.query("SELECT instance_id, at, type, message, node_id FROM instance_events "
                        + "WHERE instance_id = ? ORDER BY at DESC, id DESC LIMIT ?",
                rs -> new InstanceEvent(InstanceId.of(rs.getString("instance_id")),
                        Instant.ofEpochMilli(rs.getLong("at")), rs.getString("type"), rs.getString("message"),
                        NodeId.of(rs.getString("node_id"))), id.value(), limit);
        return newestFirst.reversed();
    }

    /** Where an event sits in an instance's history: the keyset of {@link #eventsBefore}. */
    public record EventKey(long at, long seq) {}

    /** An event with its position, for paging back through the history. */
    public record KeyedEvent(InstanceEvent event, EventKey key) {}

    /**
     * Up to {@code limit} events of the instance older than {@code before} (newest first when
     * empty), returned oldest first: a page of history, and paging goes back in time.
     */
    public List<KeyedEvent> eventsBefore(Tx tx, InstanceId id, Optional<EventKey> before, int limit)
            throws SQLException {
        EventKey k = before.orElse(new EventKey(Long.MAX_VALUE, Long.MAX_VALUE));
        List<KeyedEvent> newestFirst = tx.query("SELECT id, instance_id, at, type, message, node_id FROM instance_events "
                        + "WHERE instance_id = ? AND (at < ? OR (at = ? AND id < ?)) ORDER BY at DESC, id DESC LIMIT ?",
                rs -> new KeyedEvent(new InstanceEvent(InstanceId.of(rs.getString("instance_id")),
                        Instant.ofEpochMilli(rs.getLong("at")), rs.getString("type"), rs.getString("message"),
                        NodeId.of(rs.getString("node_id"))), new EventKey(rs.getLong("at"), rs.getLong("id"))),
                id.value(), k.at(), k.at(), k.seq(), limit);
        return newestFirst.reversed();
    }

    /** Instances placement could not put on a ready node (they carry a pending reason). */
    public long countUnplaced(Tx tx) throws SQLException {
        return tx.count("SELECT COUNT(*) FROM instances WHERE pending_reason IS NOT NULL");
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
                Instant.ofEpochMilli(rs.getLong("created_at")), Instant.ofEpochMilli(rs.getLong("updated_at")),
                optionalLong(rs, "pid"), Optional.ofNullable(rs.getString("accelerator")),
                Optional.ofNullable(rs.getString("pending_reason")));
    }

    private static Optional<Long> optionalLong(ResultSet rs, String column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? Optional.empty() : Optional.of(v);
    }
}
