package io.mvm.store.db;

import io.mvm.model.MvmException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Where intent lives: a SQLite file (the embedded default) or a PostgreSQL server shared by
 * several coordinators. Parsed and checked before anything starts.
 */
public sealed interface DatabaseUrl {

    /** A form safe to print: never contains a password (also not one given as a JDBC URL parameter). */
    String display();

    record Sqlite(Path file) implements DatabaseUrl {
        public String jdbcUrl() {
            return "jdbc:sqlite:" + file;
        }

        @Override
        public String display() {
            return "sqlite:" + file;
        }
    }

    record Postgres(String jdbcUrl, String user, String password) implements DatabaseUrl {
        @Override
        public String display() {
            return redact(jdbcUrl) + (user == null ? "" : " (user " + user + ")");
        }

        /** The same server with this password (read from a file or the environment, not the URL). */
        public Postgres withPassword(String value) {
            return new Postgres(jdbcUrl, user, value);
        }

        @Override
        public String toString() {
            return "Postgres[" + display() + "]";
        }
    }

    /**
     * Accepts {@code postgresql://user:pass@host:port/db}, {@code postgres://...},
     * {@code jdbc:postgresql://...}, {@code jdbc:sqlite:PATH}, {@code sqlite:PATH} or a plain path.
     */
    static DatabaseUrl parse(String text) {
        if (text == null || text.isBlank()) {
            throw MvmException.invalid("database location is empty");
        }
        String t = text.strip();
        if (t.startsWith("jdbc:postgresql:")) {
            return new Postgres(t, null, null);
        }
        if (t.startsWith("postgresql://") || t.startsWith("postgres://")) {
            return parsePostgresUri(t);
        }
        if (t.startsWith("jdbc:sqlite:")) {
            return new Sqlite(Path.of(t.substring("jdbc:sqlite:".length())).toAbsolutePath());
        }
        if (t.startsWith("sqlite:")) {
            return new Sqlite(Path.of(t.substring("sqlite:".length())).toAbsolutePath());
        }
        if (t.contains("://")) {
            throw MvmException.invalid("unsupported database URL scheme in '" + redact(t)
                    + "': use a SQLite file path or postgresql://user:pass@host:port/db");
        }
        return new Sqlite(Path.of(t).toAbsolutePath());
    }

    private static Postgres parsePostgresUri(String text) {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw MvmException.invalid("invalid PostgreSQL URL '" + redact(text) + "': " + e.getReason());
        }
        if (uri.getHost() == null) {
            throw MvmException.invalid("PostgreSQL URL '" + redact(text) + "' has no host");
        }
        String db = uri.getPath() == null ? "" : uri.getPath().replaceFirst("^/", "");
        if (db.isEmpty()) {
            throw MvmException.invalid("PostgreSQL URL '" + redact(text) + "' names no database (…/dbname)");
        }
        String user = null;
        String password = null;
        if (uri.getRawUserInfo() != null) {
            String[] parts = uri.getRawUserInfo().split(":", 2);
            user = URLDecoder.decode(parts[0], StandardCharsets.UTF_8);
            password = parts.length > 1 ? URLDecoder.decode(parts[1], StandardCharsets.UTF_8) : null;
        }
        int port = uri.getPort() < 0 ? 5432 : uri.getPort();
        String jdbc = "jdbc:postgresql://" + uri.getHost() + ":" + port + "/" + db
                + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
        return new Postgres(jdbc, user, password);
    }

    /** Hides a password in user info ({@code //user:pw@}) and in a {@code password=} parameter. */
    static String redact(String text) {
        return text.replaceAll("://([^:/@]*):[^@]*@", "://$1:***@")
                .replaceAll("(?i)([?&;]password=)[^&;]*", "$1***");
    }
}
