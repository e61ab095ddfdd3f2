package io.mvm.store.db;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.NodeId;
import io.mvm.store.node.NodeStore;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;
import org.flywaydb.core.Flyway;
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
    private EmbeddedPostgres postgres;
    private Path tmp;

    @BeforeAll
    void start() throws IOException {
        postgres = EmbeddedPostgres.builder().start();
        tmp = Files.createTempDirectory("mvm-relay-tokens-it-");
    }

    @AfterAll
    void stop() throws IOException {
        try {
            postgres.close();
        } finally {
            try (Stream<Path> walk = Files.walk(tmp)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void rawRelayTokensAreGone(Dialect dialect) throws Exception {
        String name = "r" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        String jdbc;
        String user = null;
        String password = null;
        if (dialect == Dialect.SQLITE) {
            jdbc = "jdbc:sqlite:" + tmp.resolve(name + ".db");
        } else {
            try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE " + name);
            }
            jdbc = "jdbc:postgresql://localhost:" + postgres.getPort() + "/" + name;
            user = "postgres";
            password = "postgres";
        }
        String folder = dialect == Dialect.SQLITE ? "sqlite" : "postgresql";
        Flyway.configure().dataSource(jdbc, user, password).locations("classpath:db/migration/" + folder)
                .target("13").load().migrate();
        try (Connection c = DriverManager.getConnection(jdbc, user, password);
             PreparedStatement insert = c.prepareStatement("INSERT INTO nodes (id, vcpus, memory_mib, disk_mib, labels,"
                     + " accelerator, status, version, created_at, agent_url, agent_token)"
                     + " VALUES (?, 1, 1, 1, '{}', 'tcg', 'ready', 1, 0, 'http://127.0.0.1:7781', ?)")) {
            insert.setString(1, "a");
            insert.setString(2, RAW);
            insert.executeUpdate();
        }
        DatabaseUrl url = dialect == Dialect.SQLITE ? DatabaseUrl.parse(jdbc)
                : new DatabaseUrl.Postgres(jdbc, user, password);
        try (Database db = Database.open(url)) {
            var node = db.read(tx -> new NodeStore().find(tx, NodeId.of("a"))).orElseThrow();
            assertThat(node.agentToken()).isEmpty();
            assertThat(node.agentUrl()).contains("http://127.0.0.1:7781");
            long raw = db.read(tx -> tx.one("SELECT COUNT(*) FROM nodes WHERE agent_token IS NOT NULL",
                    rs -> rs.getLong(1))).orElseThrow();
            assertThat(raw).isZero();
        }
    }
}
