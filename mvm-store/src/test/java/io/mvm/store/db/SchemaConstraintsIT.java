package io.mvm.store.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The uniqueness the coordinator relies on is the schema's, on both databases: a second tenant
 * with the same net id, a second instance with the same address in a tenant, a duplicate pool.
 * Migrations are idempotent across reopen.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SchemaConstraintsIT {
    private EmbeddedPostgres postgres;
    private Path tmp;

    @BeforeAll
    void start() throws IOException {
        postgres = EmbeddedPostgres.builder().start();
        tmp = Files.createTempDirectory("mvm-store-it-");
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

    private DatabaseUrl fresh(Dialect dialect) throws SQLException {
        String name = "s" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        if (dialect == Dialect.SQLITE) {
            return new DatabaseUrl.Sqlite(tmp.resolve(name + ".db"));
        }
        try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
        return DatabaseUrl.parse("postgresql://postgres:postgres@localhost:" + postgres.getPort() + "/" + name);
    }

    private static int tenant(Tx tx, String id, int netId) throws SQLException {
        return tx.update("INSERT INTO tenants (id, net_id, subnet, max_vcpus, max_memory_mib, max_instances, version, created_at,"
                + " updated_at) VALUES (?, ?, ?, 1, 1, 1, 1, 0, 0)", id, netId, "10.240." + (netId - 1) + ".0/24");
    }

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void uniquenessAndCascadesLiveInTheSchema(Dialect dialect) throws SQLException {
        DatabaseUrl url = fresh(dialect);
        try (Database db = Database.open(url)) {
            assertThat(db.dialect()).isEqualTo(dialect);
            db.inTransaction(tx -> {
                tenant(tx, "a", 1);
                tx.update("INSERT INTO pools (tenant_id, name, role, profile, flake, vcpus, memory_mib, data_disk_mib,"
                        + " want_running, want_warm, want_sleeping, want_stopped, revision, version, created_at, updated_at)"
                        + " VALUES ('a', 'p', 'worker', 'm', '.', 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0)");
                tx.update("INSERT INTO instances (id, tenant_id, pool_name, desired_state, state, ip, revision, version,"
                        + " created_at, updated_at) VALUES ('i-1', 'a', 'p', 'running', 'pending', '10.240.0.2', 1, 1, 0, 0)");
                return null;
            });
            assertUnique(db, tx -> tenant(tx, "b", 1));
            assertUnique(db, tx -> tenant(tx, "a", 2));
            assertUnique(db, tx -> tx.update("INSERT INTO instances (id, tenant_id, pool_name, desired_state, state, ip,"
                    + " revision, version, created_at, updated_at) VALUES ('i-2', 'a', 'p', 'running', 'pending',"
                    + " '10.240.0.2', 1, 1, 0, 0)"));
            assertUnique(db, tx -> tx.update("INSERT INTO pools (tenant_id, name, role, profile, flake, vcpus, memory_mib,"
                    + " data_disk_mib, want_running, want_warm, want_sleeping, want_stopped, revision, version, created_at,"
                    + " updated_at) VALUES ('a', 'p', 'worker', 'm', '.', 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0)"));
            // A failed transaction leaves nothing behind.
            long tenants = db.<Long>read(tx -> tx.count("SELECT COUNT(*) FROM tenants"));
            assertThat(tenants).isEqualTo(1);
            db.inTransaction(tx -> tx.update("DELETE FROM tenants WHERE id = 'a'"));
            long instances = db.<Long>read(tx -> tx.count("SELECT COUNT(*) FROM instances"));
            assertThat(instances).as("cascade").isZero();
        }
        try (Database reopened = Database.open(url)) {
            long left = reopened.<Long>read(tx -> tx.count("SELECT COUNT(*) FROM tenants"));
            assertThat(left).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void aReadSeesOneSnapshotEvenWhenAWriterCommitsBetweenItsStatements(Dialect dialect) throws Exception {
        try (Database db = Database.open(fresh(dialect))) {
            db.inTransaction(tx -> tenant(tx, "a", 1));
            long[] counts = db.read(tx -> {
                long first = tx.count("SELECT COUNT(*) FROM tenants");
                // Another connection commits a second tenant between the two statements.
                Thread writer = Thread.ofVirtual().start(() -> db.inTransaction(w -> tenant(w, "b", 2)));
                try {
                    writer.join();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return new long[] {first, tx.count("SELECT COUNT(*) FROM tenants")};
            });
            assertThat(counts).containsExactly(1, 1);
            long after = db.<Long>read(tx -> tx.count("SELECT COUNT(*) FROM tenants"));
            assertThat(after).as("the write was committed").isEqualTo(2);
        }
    }

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void markingANodeLostRechecksItsHeartbeatInTheSameStatement(Dialect dialect) throws Exception {
        var store = new io.mvm.store.node.NodeStore();
        var t0 = java.time.Instant.parse("2026-12-01T10:00:00Z");
        var node = new io.mvm.store.node.Node(io.mvm.model.NodeId.of("a"), 4, 4096, 10_000, java.util.Map.of(),
                io.mvm.model.Accelerator.TCG, io.mvm.store.node.Node.READY, java.util.Optional.of(t0), 1, t0,
                java.util.Optional.empty(), java.util.Optional.empty(), 0, "", -1);
        try (Database db = Database.open(fresh(dialect))) {
            db.inTransaction(tx -> {
                store.insert(tx, node);
                return null;
            });
            var cutoff = t0.plusSeconds(5);
            // The node was silent when read, but heartbeated (at cutoff + 1 s) before the marking.
            db.inTransaction(tx -> store.heartbeat(tx, node.id(), cutoff.plusSeconds(1)));
            boolean markedEarly = db.inTransaction(tx -> store.markLost(tx, node.id(), cutoff));
            assertThat(markedEarly).isFalse();
            assertThat(db.read(tx -> store.find(tx, node.id())).orElseThrow().ready()).isTrue();
            // Still silent since before the cutoff: marked.
            boolean marked = db.inTransaction(tx -> store.markLost(tx, node.id(), cutoff.plusSeconds(2)));
            assertThat(marked).isTrue();
            assertThat(db.read(tx -> store.find(tx, node.id())).orElseThrow().ready()).isFalse();
        }
    }

    private static void assertUnique(Database db, Database.Work<?> work) {
        assertThatThrownBy(() -> db.inTransaction(work))
                .hasCauseInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(db.dialect().isUniqueViolation((SQLException) e.getCause())).isTrue());
    }
}
