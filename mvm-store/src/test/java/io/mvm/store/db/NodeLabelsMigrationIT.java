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
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.flywaydb.core.Flyway;
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
    private EmbeddedPostgres postgres;
    private Path tmp;

    @BeforeAll
    void start() throws IOException {
        postgres = EmbeddedPostgres.builder().start();
        tmp = Files.createTempDirectory("mvm-labels-it-");
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
    void oldLabelLinesBecomeJson(Dialect dialect) throws Exception {
        String name = "l" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
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
                .target("7").load().migrate();
        try (Connection c = DriverManager.getConnection(jdbc, user, password);
             PreparedStatement insert = c.prepareStatement("INSERT INTO nodes (id, vcpus, memory_mib, disk_mib, labels,"
                     + " accelerator, status, version, created_at) VALUES (?, 1, 1, 1, ?, 'tcg', 'ready', 1, 0)")) {
            for (String[] row : new String[][] {{"a", "zone=eu-1\ndisk=ssd=fast\n"}, {"b", ""}, {"c", "q=\"x\"\n"}}) {
                insert.setString(1, row[0]);
                insert.setString(2, row[1]);
                insert.executeUpdate();
            }
        }
        DatabaseUrl url = dialect == Dialect.SQLITE ? DatabaseUrl.parse(jdbc)
                : new DatabaseUrl.Postgres(jdbc, user, password);
        try (Database db = Database.open(url)) {
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
