package io.mvm.store.db;

import java.sql.SQLException;
import java.util.Optional;

/** Cluster-wide settings fixed at first start (e.g. the cluster CIDR), shared by every coordinator. */
public final class ClusterSettings {

    public Optional<String> get(Tx tx, String name) throws SQLException {
        return tx.one("SELECT value FROM cluster_settings WHERE name = ?", rs -> rs.getString(1), name);
    }

    /** Stores {@code value} unless a value is already there; returns the value that holds. */
    public String putIfAbsent(Tx tx, String name, String value) throws SQLException {
        tx.update("INSERT INTO cluster_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, value);
        return get(tx, name).orElseThrow();
    }

    /**
     * Takes a cluster-wide lock for the rest of the transaction (PostgreSQL: the setting's row;
     * SQLite: writers are serialised already). The setting must exist.
     */
    public void lock(Tx tx, String name) throws SQLException {
        tx.one("SELECT value FROM cluster_settings WHERE name = ?" + tx.dialect().forUpdate(), rs -> rs.getString(1),
                name);
    }
}
