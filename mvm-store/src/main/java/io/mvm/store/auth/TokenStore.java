package io.mvm.store.auth;

import io.mvm.model.NodeId;
import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
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

    /** A node token as an operator sees it: never its secret or hash. */
    public record NodeTokenRecord(String id, NodeId node, Instant createdAt, Optional<Instant> revokedAt) {}

    /** Every node token ever issued, oldest first, revoked ones included (with when). */
    public List<NodeTokenRecord> nodeTokens(Tx tx) throws SQLException {
        return tx.query("SELECT id, node_id, created_at, revoked_at FROM api_tokens WHERE kind = 'node' ORDER BY created_at, id",
                TokenStore::mapNodeToken);
    }

    public Optional<NodeTokenRecord> nodeToken(Tx tx, String id) throws SQLException {
        return tx.one("SELECT id, node_id, created_at, revoked_at FROM api_tokens WHERE kind = 'node' AND id = ?",
                TokenStore::mapNodeToken, id);
    }

    /**
     * Marks a node token revoked at {@code at}; a token revoked earlier keeps its first revocation
     * time. True when this call revoked it (false when it already was, also by a concurrent call).
     */
    public boolean revokeNodeToken(Tx tx, String id, Instant at) throws SQLException {
        return 1 == tx.update("UPDATE api_tokens SET revoked_at = ? WHERE kind = 'node' AND id = ? AND revoked_at IS NULL",
                at.toEpochMilli(), id);
    }

    private static NodeTokenRecord mapNodeToken(ResultSet rs) throws SQLException {
        long revoked = rs.getLong("revoked_at");
        Optional<Instant> revokedAt = rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(revoked));
        return new NodeTokenRecord(rs.getString("id"), NodeId.of(rs.getString("node_id")),
                Instant.ofEpochMilli(rs.getLong("created_at")), revokedAt);
    }

    private static ApiToken map(ResultSet rs) throws SQLException {
        return new ApiToken(rs.getString("id"), rs.getString("name"),
                ApiToken.Kind.valueOf(rs.getString("kind").toUpperCase(Locale.ROOT)),
                Optional.ofNullable(rs.getString("node_id")).map(NodeId::of), Instant.ofEpochMilli(rs.getLong("created_at")));
    }
}
