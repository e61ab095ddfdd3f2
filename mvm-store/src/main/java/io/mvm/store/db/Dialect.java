package io.mvm.store.db;

import java.sql.SQLException;

/** The few places where SQLite and PostgreSQL differ for mvm. */
public enum Dialect {
    SQLITE,
    POSTGRESQL;

    /**
     * Suffix that locks selected rows until commit. SQLite has no row locks; its transactions
     * begin IMMEDIATE (one writer at a time), which gives the same serialisation.
     */
    public String forUpdate() {
        return this == POSTGRESQL ? " FOR UPDATE" : "";
    }

    public boolean isUniqueViolation(SQLException e) {
        return switch (this) {
            case POSTGRESQL -> "23505".equals(e.getSQLState());
            // SQLITE_CONSTRAINT_UNIQUE (2067) / SQLITE_CONSTRAINT_PRIMARYKEY (1555), or the base code 19.
            case SQLITE -> e.getErrorCode() == 2067 || e.getErrorCode() == 1555
                    || (e.getErrorCode() == 19 && e.getMessage() != null && e.getMessage().contains("UNIQUE"));
        };
    }

    public boolean isForeignKeyViolation(SQLException e) {
        return switch (this) {
            case POSTGRESQL -> "23503".equals(e.getSQLState());
            case SQLITE -> e.getErrorCode() == 787
                    || (e.getErrorCode() == 19 && e.getMessage() != null && e.getMessage().contains("FOREIGN KEY"));
        };
    }

    /** Failures where running the whole transaction again is the right answer. */
    public boolean isTransient(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s) {
                String state = s.getSQLState();
                if ("40001".equals(state) || "40P01".equals(state)) {
                    return true;
                }
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), including extended codes.
                if (this == SQLITE && ((s.getErrorCode() & 0xff) == 5 || (s.getErrorCode() & 0xff) == 6)) {
                    return true;
                }
            }
        }
        return false;
    }
}
