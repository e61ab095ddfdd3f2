package io.mvm.store.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * A migrated connection pool plus the transaction discipline every store call goes through:
 * work runs in one transaction that is committed before the caller sees a result, and is run
 * again from scratch when the database reports a transient conflict (serialization failure,
 * deadlock, busy) or the work asks for a retry (a lost race on a unique allocation).
 */
public final class Database implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Database.class);
    private static final int MAX_ATTEMPTS = 12;

    private final HikariDataSource pool;
    private final Dialect dialect;
    private final DatabaseUrl url;

    private Database(HikariDataSource pool, Dialect dialect, DatabaseUrl url) {
        this.pool = pool;
        this.dialect = dialect;
        this.url = url;
    }

    @FunctionalInterface
    public interface Work<T> {
        T run(Tx tx) throws SQLException;
    }

    /**
     * A check that ends every transaction run inside {@link #fenced}, just before its commit; it
     * throws to abort the transaction (a leader's epoch that is no longer current, say).
     */
    @FunctionalInterface
    public interface Fence {
        void verify(Tx tx) throws SQLException;
    }

    private final ThreadLocal<Fence> fence = new ThreadLocal<>();

    /**
     * Runs {@code body} on this thread with every transaction it commits through this database
     * checked by {@code check} in that same transaction. Nested calls keep the outer fence.
     */
    public <T> T fenced(Fence check, java.util.function.Supplier<T> body) {
        if (fence.get() != null) {
            return body.get();
        }
        fence.set(check);
        try {
            return body.get();
        } finally {
            fence.remove();
        }
    }

    /** Thrown by work that lost a race it can win by starting over (e.g. two tenants picked one net id). */
    public static final class RetryTransaction extends RuntimeException {
        public RetryTransaction(String reason) {
            super(reason, null, false, false);
        }
    }

    private static final Set<PosixFilePermission> OWNER_ONLY_FILE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");

    /**
     * The database holds pool secrets and the agents' relay tokens, so only its owner may read it:
     * a directory we create is 0700, and the file is created 0600 before SQLite opens it (SQLite
     * gives its -wal and -shm files the database file's mode). Files left wider by an older
     * version are narrowed.
     */
    private static void makePrivate(Path file) {
        try {
            Path dir = file.getParent();
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir);
                Files.setPosixFilePermissions(dir, OWNER_ONLY_DIR);
            }
            if (!Files.exists(file)) {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY_FILE));
            }
            for (String suffix : new String[] {"", "-wal", "-shm"}) {
                Path f = file.resolveSibling(file.getFileName() + suffix);
                if (Files.exists(f)) {
                    Files.setPosixFilePermissions(f, OWNER_ONLY_FILE);
                }
            }
        } catch (UnsupportedOperationException e) {
            log.warn("cannot restrict permissions of {} on this file system", file);
        } catch (IOException e) {
            throw MvmException.invalid("cannot prepare the database file " + file + ": " + e.getMessage());
        }
    }

    public static Database open(DatabaseUrl url) {
        HikariConfig config = new HikariConfig();
        config.setPoolName("mvm-store");
        config.setAutoCommit(true);
        config.setConnectionTimeout(Duration.ofSeconds(30).toMillis());
        Dialect dialect;
        switch (url) {
            case DatabaseUrl.Sqlite sqlite -> {
                dialect = Dialect.SQLITE;
                makePrivate(sqlite.file().toAbsolutePath());
                SQLiteConfig sc = new SQLiteConfig();
                sc.setJournalMode(SQLiteConfig.JournalMode.WAL);
                // FULL: a commit is on disk before we acknowledge it, even across power loss.
                sc.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
                sc.setBusyTimeout(15_000);
                sc.enforceForeignKeys(true);
                // Writers take the lock at BEGIN, so read-then-write transactions never deadlock on upgrade.
                sc.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
                SQLiteDataSource ds = new SQLiteDataSource(sc);
                ds.setUrl(sqlite.jdbcUrl());
                config.setDataSource(ds);
                config.setMaximumPoolSize(4);
            }
            case DatabaseUrl.Postgres pg -> {
                dialect = Dialect.POSTGRESQL;
                config.setJdbcUrl(pg.jdbcUrl());
                if (pg.user() != null) {
                    config.setUsername(pg.user());
                }
                if (pg.password() != null) {
                    config.setPassword(pg.password());
                }
                config.setMaximumPoolSize(8);
                config.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
                // A process frozen inside a transaction (stopped, swapped out) would hold its row locks,
                // among them the share lock a fenced leader write takes on the lease row, and so hold
                // off a new leader's takeover; the server ends such a session after this long.
                config.setConnectionInitSql("SET idle_in_transaction_session_timeout = '30s'");
            }
        }
        HikariDataSource ds;
        try {
            ds = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw MvmException.unavailable("cannot connect to database " + url.display() + ": " + rootMessage(e), e);
        }
        try {
            Flyway.configure()
                    .dataSource(ds)
                    .locations("classpath:db/migration/" + (dialect == Dialect.SQLITE ? "sqlite" : "postgresql"))
                    .load()
                    .migrate();
        } catch (FlywayException e) {
            ds.close();
            throw new MvmException(ErrorCategory.UNAVAILABLE, "cannot migrate database " + url.display() + ": "
                    + rootMessage(e), e);
        }
        log.info("database ready: {}", url.display());
        return new Database(ds, dialect, url);
    }

    public Dialect dialect() {
        return dialect;
    }

    public DatabaseUrl url() {
        return url;
    }

    /** Runs {@code work} in one transaction, committed before returning; retried on transient conflicts. */
    public <T> T inTransaction(Work<T> work) {
        for (int attempt = 1; ; attempt++) {
            try (Connection c = pool.getConnection()) {
                c.setAutoCommit(false);
                try {
                    Tx tx = new Tx(c, dialect);
                    T result = work.run(tx);
                    Fence check = fence.get();
                    if (check != null) {
                        check.verify(tx);
                    }
                    c.commit();
                    return result;
                } catch (Throwable t) {
                    rollbackQuietly(c);
                    throw t;
                } finally {
                    c.setAutoCommit(true);
                }
            } catch (RetryTransaction e) {
                if (attempt >= MAX_ATTEMPTS) {
                    throw MvmException.unavailable("gave up after " + attempt + " attempts: " + e.getMessage(), e);
                }
                backoff(attempt);
            } catch (SQLException e) {
                if (dialect.isTransient(e) && attempt < MAX_ATTEMPTS) {
                    backoff(attempt);
                    continue;
                }
                throw storeFailure(e);
            }
        }
    }

    /**
     * Runs read-only work in one read snapshot, so several statements that must agree (a node
     * list and the instances placed on those nodes, say) see the same committed state. PostgreSQL:
     * a REPEATABLE READ, READ ONLY transaction (one snapshot from its first statement; it cannot
     * fail to serialize, since it writes nothing). SQLite: a deferred transaction, which holds one
     * WAL read snapshot without taking the writer lock (the connection's own transactions begin
     * IMMEDIATE, for writers).
     */
    public <T> T read(Work<T> work) {
        for (int attempt = 1; ; attempt++) {
            try (Connection c = pool.getConnection()) {
                return readInSnapshot(c, work);
            } catch (SQLException e) {
                if (dialect.isTransient(e) && attempt < MAX_ATTEMPTS) {
                    backoff(attempt);
                    continue;
                }
                throw storeFailure(e);
            }
        }
    }

    private <T> T readInSnapshot(Connection c, Work<T> work) throws SQLException {
        if (dialect == Dialect.SQLITE) {
            try (var st = c.createStatement()) {
                st.execute("BEGIN DEFERRED");
            }
            try {
                return work.run(new Tx(c, dialect));
            } finally {
                try (var st = c.createStatement()) {
                    st.execute("COMMIT");
                }
            }
        }
        c.setAutoCommit(false);
        try {
            try (var st = c.createStatement()) {
                st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            }
            T result = work.run(new Tx(c, dialect));
            c.commit();
            return result;
        } catch (Throwable t) {
            rollbackQuietly(c);
            throw t;
        } finally {
            c.setAutoCommit(true);
        }
    }

    private MvmException storeFailure(SQLException e) {
        return MvmException.unavailable("database error (" + url.display() + ")", e);
    }

    private static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // The connection is broken; Hikari evicts it, and the original failure is what matters.
        }
    }

    private static void backoff(int attempt) {
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(1, 5L << Math.min(attempt, 6)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw MvmException.unavailable("interrupted while retrying a transaction", e);
        }
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }

    @Override
    public void close() {
        pool.close();
    }
}
