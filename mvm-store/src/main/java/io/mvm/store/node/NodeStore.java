package io.mvm.store.node;

import io.mvm.model.Accelerator;
import io.mvm.model.NodeId;
import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Node rows. Labels are stored as one {@code k=v} per line (keys and values may not contain
 * newlines or '='), which keeps this module free of a JSON dependency.
 */
public final class NodeStore {

    public List<Node> list(Tx tx) throws SQLException {
        return tx.query("SELECT id, vcpus, memory_mib, disk_mib, labels, accelerator, status, last_heartbeat, version, "
                + "created_at FROM nodes ORDER BY id", NodeStore::map);
    }

    public void insert(Tx tx, Node n) throws SQLException {
        tx.update("INSERT INTO nodes (id, vcpus, memory_mib, disk_mib, labels, accelerator, status, last_heartbeat, "
                        + "version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                n.id().value(), n.vcpus(), n.memoryMib(), n.diskMib(), encode(n.labels()), n.accelerator().wireName(),
                n.status(), n.lastHeartbeat().map(Instant::toEpochMilli).orElse(null), n.version(),
                n.createdAt().toEpochMilli());
    }

    static String encode(Map<String, String> labels) {
        StringBuilder sb = new StringBuilder();
        labels.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        return sb.toString();
    }

    static Map<String, String> decode(String text) {
        Map<String, String> out = new LinkedHashMap<>();
        if (text != null) {
            for (String line : text.split("\n")) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    out.put(line.substring(0, eq), line.substring(eq + 1));
                }
            }
        }
        return out;
    }

    private static Node map(ResultSet rs) throws SQLException {
        long hb = rs.getLong("last_heartbeat");
        boolean noHeartbeat = rs.wasNull();
        return new Node(NodeId.of(rs.getString("id")), rs.getInt("vcpus"), rs.getLong("memory_mib"),
                rs.getLong("disk_mib"), decode(rs.getString("labels")), Accelerator.parse(rs.getString("accelerator")),
                rs.getString("status"), noHeartbeat ? Optional.empty() : Optional.of(Instant.ofEpochMilli(hb)),
                rs.getLong("version"), Instant.ofEpochMilli(rs.getLong("created_at")));
    }
}
