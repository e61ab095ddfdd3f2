package io.mvm.store.db;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;
import org.flywaydb.core.Flyway;

/**
 * Fresh databases of both dialects migrated only up to an old schema version, for tests of what a
 * later migration does to rows written before it: rows are inserted with plain JDBC at the old
 * version, then {@link OldSchema#open()} runs every migration as a coordinator start would.
 */
final class OldSchemaDatabases implements AutoCloseable {
    private final EmbeddedPostgres postgres;
    private final Path tmp;

    OldSchemaDatabases(String prefix) throws IOException {
        this.postgres = EmbeddedPostgres.builder().start();
        this.tmp = Files.createTempDirectory(prefix);
    }

    /** A new database of {@code dialect} at schema {@code version}. */
    OldSchema at(Dialect dialect, String version) throws SQLException {
        String name = "m" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        OldSchema db;
        if (dialect == Dialect.SQLITE) {
            db = new OldSchema(dialect, "jdbc:sqlite:" + tmp.resolve(name + ".db"), null, null);
        } else {
            try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE " + name);
            }
            db = new OldSchema(dialect, "jdbc:postgresql://localhost:" + postgres.getPort() + "/" + name, "postgres",
                    "postgres");
        }
        String folder = dialect == Dialect.SQLITE ? "sqlite" : "postgresql";
        Flyway.configure().dataSource(db.jdbc(), db.user(), db.password()).locations("classpath:db/migration/" + folder)
                .target(version).load().migrate();
        return db;
    }

    record OldSchema(Dialect dialect, String jdbc, String user, String password) {
        /** A plain connection at the old schema. */
        Connection connect() throws SQLException {
            return DriverManager.getConnection(jdbc, user, password);
        }

        /** Opens the database as the coordinator does: every later migration runs. */
        Database open() {
            return Database.open(dialect == Dialect.SQLITE ? DatabaseUrl.parse(jdbc)
                    : new DatabaseUrl.Postgres(jdbc, user, password));
        }
    }

    @Override
    public void close() throws IOException {
        try {
            postgres.close();
        } finally {
            try (Stream<Path> walk = Files.walk(tmp)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
