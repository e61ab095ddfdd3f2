package io.mvm.store.node;

import io.mvm.model.Accelerator;
import io.mvm.model.NodeId;
import io.mvm.store.db.Tx;
import io.mvm.store.json.JsonColumns;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Node rows. Labels are stored as one {@code k=v} per line (keys and values may not contain
 * newlines or '=').
 */
public final class NodeStore {
    private static final String COLUMNS = "id, vcpus, memory_mib, disk_mib, labels, accelerator, status, last_heartbeat, "
            + "version, created_at, agent_url, agent_token, generation, desired_hash, observed_generation";

    public List<Node> list(Tx tx) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM nodes ORDER BY id", NodeStore::map);
    }

    /** Up to {@code limit} nodes with ids after {@code after} (keyset paging in id order). */
    public List<Node> page(Tx tx, Optional<String> after, int limit) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM nodes WHERE id > ? ORDER BY id LIMIT ?", NodeStore::map,
                after.orElse(""), limit);
    }

    public Optional<Node> find(Tx tx, NodeId id) throws SQLException {
        return tx.one("SELECT " + COLUMNS + " FROM nodes WHERE id = ?", NodeStore::map, id.value());
    }

    public void insert(Tx tx, Node n) throws SQLException {
        tx.update("INSERT INTO nodes (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                n.id().value(), n.vcpus(), n.memoryMib(), n.diskMib(), encode(n.labels()), n.accelerator().wireName(),
                n.status(), n.lastHeartbeat().map(Instant::toEpochMilli).orElse(null), n.version(),
                n.createdAt().toEpochMilli(), n.agentUrl().orElse(null), n.agentToken().orElse(null), n.generation(),
                n.desiredHash(), n.observedGeneration());
    }

    /** A repeated registration: new capacity, labels, accelerator and relay endpoint; ready again. */
    public void reregister(Tx tx, Node n) throws SQLException {
        tx.update("UPDATE nodes SET vcpus = ?, memory_mib = ?, disk_mib = ?, labels = ?, accelerator = ?, status = ?, "
                        + "last_heartbeat = ?, version = version + 1, agent_url = ?, agent_token = ? WHERE id = ?",
                n.vcpus(), n.memoryMib(), n.diskMib(), encode(n.labels()), n.accelerator().wireName(), n.status(),
                n.lastHeartbeat().map(Instant::toEpochMilli).orElse(null), n.agentUrl().orElse(null),
                n.agentToken().orElse(null), n.id().value());
    }

    /** Records a heartbeat; returns whether the node was lost until now (false also when unknown). */
    public boolean heartbeat(Tx tx, NodeId id, Instant at) throws SQLException {
        boolean wasLost = tx.count("SELECT COUNT(*) FROM nodes WHERE id = ? AND status = 'lost'", id.value()) > 0;
        tx.update("UPDATE nodes SET last_heartbeat = ?, status = 'ready' WHERE id = ?", at.toEpochMilli(), id.value());
        return wasLost;
    }

    public void observedGeneration(Tx tx, NodeId id, long generation) throws SQLException {
        tx.update("UPDATE nodes SET observed_generation = ? WHERE id = ?", generation, id.value());
    }

    /** Ready nodes whose last heartbeat is older than {@code cutoff}. */
    public List<NodeId> silentSince(Tx tx, Instant cutoff) throws SQLException {
        return tx.query("SELECT id FROM nodes WHERE status = 'ready' AND (last_heartbeat IS NULL OR last_heartbeat < ?)",
                rs -> NodeId.of(rs.getString(1)), cutoff.toEpochMilli());
    }

    /**
     * Marks a ready node lost if it is still silent since before {@code cutoff}, checked in the same
     * statement: a heartbeat committed after the caller read the node (another coordinator, or a
     * PostgreSQL transaction that started earlier) keeps it ready. Returns whether it was marked.
     */
    public boolean markLost(Tx tx, NodeId id, Instant cutoff) throws SQLException {
        return tx.update("UPDATE nodes SET status = 'lost', version = version + 1 WHERE id = ? AND status = 'ready' "
                + "AND (last_heartbeat IS NULL OR last_heartbeat < ?)", id.value(), cutoff.toEpochMilli()) == 1;
    }

    /** Capacity as {vcpus, memory MiB, disk MiB}; a node's approved one and a claim waiting above it. */
    public record CapacityRow(int vcpus, long memoryMib, long diskMib) {}

    public record Approval(Optional<CapacityRow> approved, Optional<CapacityRow> pending) {}

    public Approval approval(Tx tx, NodeId id) throws SQLException {
        return tx.one("SELECT approved_vcpus, approved_memory_mib, approved_disk_mib, pending_vcpus, pending_memory_mib,"
                + " pending_disk_mib FROM nodes WHERE id = ?", rs -> new Approval(row(rs, 1), row(rs, 4)), id.value())
                .orElse(new Approval(Optional.empty(), Optional.empty()));
    }

    private static Optional<CapacityRow> row(ResultSet rs, int first) throws SQLException {
        int vcpus = rs.getInt(first);
        if (rs.wasNull()) {
            return Optional.empty();
        }
        return Optional.of(new CapacityRow(vcpus, rs.getLong(first + 1), rs.getLong(first + 2)));
    }

    public void setApproval(Tx tx, NodeId id, Approval a) throws SQLException {
        tx.update("UPDATE nodes SET approved_vcpus = ?, approved_memory_mib = ?, approved_disk_mib = ?, pending_vcpus = ?,"
                        + " pending_memory_mib = ?, pending_disk_mib = ? WHERE id = ?",
                a.approved().map(CapacityRow::vcpus).orElse(null), a.approved().map(CapacityRow::memoryMib).orElse(null),
                a.approved().map(CapacityRow::diskMib).orElse(null), a.pending().map(CapacityRow::vcpus).orElse(null),
                a.pending().map(CapacityRow::memoryMib).orElse(null), a.pending().map(CapacityRow::diskMib).orElse(null),
                id.value());
    }

    /** Records the underlay address the node registered with (empty: it joins no overlay). */
    public void setUnderlay(Tx tx, NodeId id, Optional<String> address) throws SQLException {
        tx.update("UPDATE nodes SET underlay_address = ? WHERE id = ?", address.orElse(null), id.value());
    }

    /** Every node's underlay address, for the nodes that registered one. */
    public Map<NodeId, String> underlays(Tx tx) throws SQLException {
        Map<NodeId, String> out = new LinkedHashMap<>();
        for (var row : tx.query("SELECT id, underlay_address FROM nodes WHERE underlay_address IS NOT NULL ORDER BY id",
                rs -> Map.entry(NodeId.of(rs.getString(1)), rs.getString(2)))) {
            out.put(row.getKey(), row.getValue());
        }
        return out;
    }

    /** Replaces the node's orphans with what it reported last. */
    public void setOrphans(Tx tx, NodeId id, List<NodeOrphan> orphans) throws SQLException {
        tx.update("UPDATE nodes SET orphans = ? WHERE id = ?", JsonColumns.write(orphans.stream()
                .map(o -> Map.of("instance_id", o.instanceId(), "path", o.path(), "bytes", Long.toString(o.bytes()),
                        "reason", o.reason(), "at", o.at().toString()))
                .toList()), id.value());
    }

    /** Every node's orphans, as last reported. */
    public Map<NodeId, List<NodeOrphan>> orphans(Tx tx) throws SQLException {
        Map<NodeId, List<NodeOrphan>> out = new LinkedHashMap<>();
        for (var row : tx.query("SELECT id, orphans FROM nodes ORDER BY id",
                rs -> Map.entry(NodeId.of(rs.getString(1)), rs.getString(2)))) {
            out.put(row.getKey(), JsonColumns.maps(row.getValue()).stream()
                    .map(m -> new NodeOrphan(m.get("instance_id"), m.get("path"), Long.parseLong(m.get("bytes")),
                            m.get("reason"), Instant.parse(m.get("at"))))
                    .toList());
        }
        return out;
    }

    /** Moves the generation forward when the node's desired list changed. */
    public void advanceGeneration(Tx tx, NodeId id, long generation, String desiredHash) throws SQLException {
        tx.update("UPDATE nodes SET generation = ?, desired_hash = ? WHERE id = ? AND generation < ?", generation,
                desiredHash, id.value(), generation);
    }

    public long countByStatus(Tx tx, String status) throws SQLException {
        return tx.count("SELECT COUNT(*) FROM nodes WHERE status = ?", status);
    }

    public long generation(Tx tx, NodeId id) throws SQLException {
        return tx.one("SELECT generation FROM nodes WHERE id = ?", rs -> rs.getLong(1), id.value()).orElse(-1L);
    }

    /** Labels as a JSON object, like every structured column (V13 converted the old "key=value" lines). */
    static String encode(Map<String, String> labels) {
        return JsonColumns.write(new java.util.TreeMap<>(labels));
    }

    static Map<String, String> decode(String text) throws SQLException {
        return JsonColumns.map(text);
    }

    private static Node map(ResultSet rs) throws SQLException {
        long hb = rs.getLong("last_heartbeat");
        boolean noHeartbeat = rs.wasNull();
        return new Node(NodeId.of(rs.getString("id")), rs.getInt("vcpus"), rs.getLong("memory_mib"),
                rs.getLong("disk_mib"), decode(rs.getString("labels")), Accelerator.parse(rs.getString("accelerator")),
                rs.getString("status"), noHeartbeat ? Optional.empty() : Optional.of(Instant.ofEpochMilli(hb)),
                rs.getLong("version"), Instant.ofEpochMilli(rs.getLong("created_at")),
                Optional.ofNullable(rs.getString("agent_url")), Optional.ofNullable(rs.getString("agent_token")),
                rs.getLong("generation"), rs.getString("desired_hash"), rs.getLong("observed_generation"));
    }
}
