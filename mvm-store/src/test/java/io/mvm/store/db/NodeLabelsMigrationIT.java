package io.mvm.store.db;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.NodeId;
import io.mvm.store.node.NodeStore;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * V13 turns node labels stored as "key=value" lines (before it) into a JSON object, on both
 * databases, and the store reads and writes JSON from then on.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NodeLabelsMigrationIT {
    private OldSchemaDatabases databases;

    @BeforeAll
    void start() throws IOException {
        databases = new OldSchemaDatabases("mvm-labels-it-");
    }

    @AfterAll
    void stop() throws IOException {
        databases.close();
    }

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void oldLabelLinesBecomeJson(Dialect dialect) throws Exception {
        var old = databases.at(dialect, "7");
        try (Connection c = old.connect();
             PreparedStatement insert = c.prepareStatement("INSERT INTO nodes (id, vcpus, memory_mib, disk_mib, labels,"
                     + " accelerator, status, version, created_at) VALUES (?, 1, 1, 1, ?, 'tcg', 'ready', 1, 0)")) {
            for (String[] row : new String[][] {{"a", "zone=eu-1\ndisk=ssd=fast\n"}, {"b", ""}, {"c", "q=\"x\"\n"}}) {
                insert.setString(1, row[0]);
                insert.setString(2, row[1]);
                insert.executeUpdate();
            }
        }
        try (Database db = old.open()) {
            NodeStore nodes = new NodeStore();
            assertThat(db.read(tx -> nodes.find(tx, NodeId.of("a"))).orElseThrow().labels())
                    .isEqualTo(Map.of("zone", "eu-1", "disk", "ssd=fast"));
            assertThat(db.read(tx -> nodes.find(tx, NodeId.of("b"))).orElseThrow().labels()).isEmpty();
            assertThat(db.read(tx -> nodes.find(tx, NodeId.of("c"))).orElseThrow().labels()).isEqualTo(Map.of("q", "\"x\""));
            String raw = db.read(tx -> tx.one("SELECT labels FROM nodes WHERE id = ?", rs -> rs.getString(1), "a")).orElseThrow();
            assertThat(raw).startsWith("{");
            assertThat(io.mvm.store.json.JsonColumns.map(raw)).isEqualTo(Map.of("zone", "eu-1", "disk", "ssd=fast"));
        }
    }
}
