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
 *
 * <p>Valid tokens are cached for {@link #CACHE_FOR} so a flood of requests does not become a flood
 * of database reads; a revocation through this coordinator drops its entry at once
 * ({@link #forget}), one through another coordinator on the same database applies within
 * {@link #CACHE_FOR}. Unknown tokens are never cached (nothing to save them from; the per-address
 * limit at the edge handles floods of them).
 */
public final class TokenAuthenticator {
    public static final java.time.Duration CACHE_FOR = java.time.Duration.ofSeconds(5);
    private static final int MAX_CACHED = 10_000;
    private final Database db;
    private final TokenStore tokens;
    private final java.util.function.LongSupplier nanos;
    private final java.util.Map<String, Cached> cache = new java.util.concurrent.ConcurrentHashMap<>();

    private record Cached(ApiToken token, long until) {}

    public TokenAuthenticator(Database db, TokenStore tokens, java.util.function.LongSupplier nanos) {
        this.db = db;
        this.tokens = tokens;
        this.nanos = nanos;
    }

    /** Drops a revoked token's cached entry. */
    public void forget(String tokenId) {
        cache.values().removeIf(c -> c.token().id().equals(tokenId));
        members.clear();
    }

    private final java.util.Map<io.mvm.model.NodeId, Long> members = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * A node known by its certificate is still a member while it holds an unrevoked node token:
     * revoking a node's tokens cuts it off even before its certificate ends (within
     * {@link #CACHE_FOR} on other coordinators, at once on this one). Answers are cached like tokens.
     */
    public void requireMember(io.mvm.model.NodeId node) {
        long now = nanos.getAsLong();
        Long until = members.get(node);
        if (until != null && now - until < 0) {
            return;
        }
        boolean member = db.read(tx -> tokens.list(tx, ApiToken.Kind.NODE)).stream()
                .anyMatch(r -> r.revokedAt().isEmpty() && r.token().node().map(node::equals).orElse(false));
        if (!member) {
            throw new MvmException(ErrorCategory.UNAUTHENTICATED, "node '" + node + "' has no valid node token any more"
                    + " (revoked): its certificate is not accepted");
        }
        if (members.size() >= MAX_CACHED) {
            members.clear();
        }
        members.put(node, now + CACHE_FOR.toNanos());
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
        long now = nanos.getAsLong();
        Cached cached = cache.get(hash);
        ApiToken token;
        if (cached != null && now - cached.until() < 0) {
            token = cached.token();
        } else {
            token = db.read(tx -> tokens.findActiveByHash(tx, hash))
                    .orElseThrow(() -> new MvmException(ErrorCategory.UNAUTHENTICATED, "invalid or revoked token"));
            if (cache.size() >= MAX_CACHED) {
                cache.clear(); // crude but bounded; the next requests refill it
            }
            cache.put(hash, new Cached(token, now + CACHE_FOR.toNanos()));
        }
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
