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

    private static void assertUnique(Database db, Database.Work<?> work) {
        assertThatThrownBy(() -> db.inTransaction(work))
                .hasCauseInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(db.dialect().isUniqueViolation((SQLException) e.getCause())).isTrue());
    }
}
