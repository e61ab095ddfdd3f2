package io.mvm.store.db;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.NodeId;
import io.mvm.store.node.NodeStore;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * V15 removes the raw relay tokens agents registered before (the coordinator now derives them and
 * stores none), on both databases, and leaves the rest of the node as it was.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RelayTokensMigrationIT {
    private static final String RAW = "9f2c0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";
    private OldSchemaDatabases databases;

    @BeforeAll
    void start() throws IOException {
        databases = new OldSchemaDatabases("mvm-relay-tokens-it-");
    }

    @AfterAll
    void stop() throws IOException {
        databases.close();
    }

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void rawRelayTokensAreGone(Dialect dialect) throws Exception {
        var old = databases.at(dialect, "13");
        try (Connection c = old.connect();
             PreparedStatement insert = c.prepareStatement("INSERT INTO nodes (id, vcpus, memory_mib, disk_mib, labels,"
                     + " accelerator, status, version, created_at, agent_url, agent_token)"
                     + " VALUES (?, 1, 1, 1, '{}', 'tcg', 'ready', 1, 0, 'http://127.0.0.1:7781', ?)")) {
            insert.setString(1, "a");
            insert.setString(2, RAW);
            insert.executeUpdate();
        }
        try (Database db = old.open()) {
            var node = db.read(tx -> new NodeStore().find(tx, NodeId.of("a"))).orElseThrow();
            assertThat(node.agentToken()).isEmpty();
            assertThat(node.agentUrl()).contains("http://127.0.0.1:7781");
            long raw = db.read(tx -> tx.one("SELECT COUNT(*) FROM nodes WHERE agent_token IS NOT NULL",
                    rs -> rs.getLong(1))).orElseThrow();
            assertThat(raw).isZero();
        }
    }
}
