package io.mvm.store.auth;

import io.mvm.model.NodeId;
import io.mvm.model.TenantId;
import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** Token rows, looked up by the SHA-256 of the presented secret. */
public final class TokenStore {
    private static final String COLUMNS = "id, name, kind, node_id, tenant_id, role, created_at, revoked_at";

    public Optional<ApiToken> findActiveByHash(Tx tx, String tokenHash) throws SQLException {
        return tx.one("SELECT " + COLUMNS + " FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                TokenStore::map, tokenHash);
    }

    public boolean anyActiveAdmin(Tx tx) throws SQLException {
        return tx.count("SELECT COUNT(*) FROM api_tokens WHERE kind = 'admin' AND revoked_at IS NULL") > 0;
    }

    public void insert(Tx tx, ApiToken token, String tokenHash) throws SQLException {
        tx.update("INSERT INTO api_tokens (id, name, kind, node_id, tenant_id, role, token_hash, created_at)"
                        + " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                token.id(), token.name(), token.kind().name().toLowerCase(Locale.ROOT),
                token.node().map(NodeId::value).orElse(null), token.tenant().map(TenantId::value).orElse(null),
                token.role().orElse(null), tokenHash, token.createdAt().toEpochMilli());
    }

    /** A token as an operator sees it: never its secret or hash. */
    public record TokenRecord(ApiToken token, Optional<Instant> revokedAt) {}

    /** Every token of a kind ever issued, oldest first, revoked ones included (with when). */
    public List<TokenRecord> list(Tx tx, ApiToken.Kind kind) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM api_tokens WHERE kind = ? ORDER BY created_at, id",
                TokenStore::mapRecord, kind.name().toLowerCase(Locale.ROOT));
    }

    public Optional<TokenRecord> find(Tx tx, ApiToken.Kind kind, String id) throws SQLException {
        return tx.one("SELECT " + COLUMNS + " FROM api_tokens WHERE kind = ? AND id = ?", TokenStore::mapRecord,
                kind.name().toLowerCase(Locale.ROOT), id);
    }

    /**
     * Marks a token of {@code kind} revoked at {@code at}; a token revoked earlier keeps its first
     * revocation time. True when this call revoked it (false when it already was, also by a
     * concurrent call).
     */
    public boolean revoke(Tx tx, ApiToken.Kind kind, String id, Instant at) throws SQLException {
        return 1 == tx.update("UPDATE api_tokens SET revoked_at = ? WHERE kind = ? AND id = ? AND revoked_at IS NULL",
                at.toEpochMilli(), kind.name().toLowerCase(Locale.ROOT), id);
    }

    private static TokenRecord mapRecord(ResultSet rs) throws SQLException {
        long revoked = rs.getLong("revoked_at");
        Optional<Instant> revokedAt = rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(revoked));
        return new TokenRecord(map(rs), revokedAt);
    }

    private static ApiToken map(ResultSet rs) throws SQLException {
        return new ApiToken(rs.getString("id"), rs.getString("name"),
                ApiToken.Kind.valueOf(rs.getString("kind").toUpperCase(Locale.ROOT)),
                Optional.ofNullable(rs.getString("node_id")).map(NodeId::of),
                Optional.ofNullable(rs.getString("tenant_id")).map(TenantId::of),
                Optional.ofNullable(rs.getString("role")), Instant.ofEpochMilli(rs.getLong("created_at")));
    }
}
