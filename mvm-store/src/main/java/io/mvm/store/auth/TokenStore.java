package io.mvm.store.auth;

import io.mvm.model.NodeId;
import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;

/** Token rows, looked up by the SHA-256 of the presented secret. */
public final class TokenStore {

    public Optional<ApiToken> findActiveByHash(Tx tx, String tokenHash) throws SQLException {
        return tx.one("SELECT id, name, kind, node_id, created_at FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                TokenStore::map, tokenHash);
    }

    public boolean anyActiveAdmin(Tx tx) throws SQLException {
        return tx.count("SELECT COUNT(*) FROM api_tokens WHERE kind = 'admin' AND revoked_at IS NULL") > 0;
    }

    public void insert(Tx tx, ApiToken token, String tokenHash) throws SQLException {
        tx.update("INSERT INTO api_tokens (id, name, kind, node_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                token.id(), token.name(), token.kind().name().toLowerCase(Locale.ROOT),
                token.node().map(NodeId::value).orElse(null), tokenHash, token.createdAt().toEpochMilli());
    }

    private static ApiToken map(ResultSet rs) throws SQLException {
        return new ApiToken(rs.getString("id"), rs.getString("name"),
                ApiToken.Kind.valueOf(rs.getString("kind").toUpperCase(Locale.ROOT)),
                Optional.ofNullable(rs.getString("node_id")).map(NodeId::of), Instant.ofEpochMilli(rs.getLong("created_at")));
    }
}
