package io.mvm.coordinator.auth;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.store.auth.ApiToken;
import io.mvm.store.auth.TokenStore;
import io.mvm.store.db.Database;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Turns an Authorization header into a {@link Caller}. Tokens carry 256 random bits, so one
 * SHA-256 is enough to store them safely (no slow hash needed against guessing).
 */
public final class TokenAuthenticator {
    private final Database db;
    private final TokenStore tokens;

    public TokenAuthenticator(Database db, TokenStore tokens) {
        this.db = db;
        this.tokens = tokens;
    }

    public Caller authenticate(String authorizationHeader) {
        if (authorizationHeader == null || authorizationHeader.isBlank()) {
            throw new MvmException(ErrorCategory.UNAUTHENTICATED, "missing bearer token (Authorization: Bearer <token>)");
        }
        String[] parts = authorizationHeader.strip().split("\\s+", 2);
        if (parts.length != 2 || !parts[0].equalsIgnoreCase("Bearer") || parts[1].isBlank()) {
            throw new MvmException(ErrorCategory.UNAUTHENTICATED, "malformed Authorization header: expected 'Bearer <token>'");
        }
        String hash = hash(parts[1].strip());
        ApiToken token = db.read(tx -> tokens.findActiveByHash(tx, hash))
                .orElseThrow(() -> new MvmException(ErrorCategory.UNAUTHENTICATED, "invalid or revoked token"));
        return new Caller(token.actor(), principal(token));
    }

    static Principal principal(ApiToken token) {
        return switch (token.kind()) {
            case ADMIN -> new Principal.Admin();
            case NODE -> new Principal.Node(token.node().orElseThrow());
            case TENANT -> new Principal.TenantMember(token.tenant().orElseThrow(), TenantRole.parse(token.role().orElseThrow()));
            case METRICS -> new Principal.MetricsReader();
        };
    }

    public static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
