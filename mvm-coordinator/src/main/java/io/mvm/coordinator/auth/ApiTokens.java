package io.mvm.coordinator.auth;

import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.TenantId;
import io.mvm.store.auth.ApiToken;
import io.mvm.store.auth.TokenStore;
import io.mvm.store.auth.TokenStore.TokenRecord;
import io.mvm.store.db.Database;
import io.mvm.store.tenant.TenantStore;
import java.security.SecureRandom;
import java.time.InstantSource;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Scoped tokens: node tokens (one node), tenant tokens (one tenant, a role) and metrics tokens.
 * Each is 256 random bits, shown once to whoever asked, stored only as a hash. Listing shows ids,
 * scopes and dates, never a secret; a revoked token is refused from its next request on. Issuing
 * and revoking are audited in the cluster's trail (and a tenant token also in its tenant's).
 */
public final class ApiTokens {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    private final Database db;
    private final TokenStore tokens;
    private final TenantStore tenants;
    private final AuditTrail audit;
    private final SecureRandom random;
    private final InstantSource clock;
    private final java.util.function.Consumer<String> onRevoke;

    /** {@code onRevoke} is told a revoked token's id (the authenticator drops it from its cache). */
    public ApiTokens(Database db, TokenStore tokens, TenantStore tenants, AuditTrail audit, SecureRandom random,
                     InstantSource clock, java.util.function.Consumer<String> onRevoke) {
        this.onRevoke = onRevoke;
        this.db = db;
        this.tokens = tokens;
        this.tenants = tenants;
        this.audit = audit;
        this.random = random;
        this.clock = clock;
    }

    public record Issued(String id, ApiToken stored, String token) {
        @Override
        public String toString() {
            return "Issued[id=" + id + ", kind=" + stored.kind() + ", token=(hidden)]";
        }
    }

    public Issued issueNode(Caller caller, NodeId node) {
        String id = UUID.randomUUID().toString();
        return issue(caller, ApiToken.node(id, node, clock.instant()), "mvmn_", "node-tokens/" + id + " (node " + node + ")");
    }

    /** A token for one tenant with a role; the tenant must exist. {@code name} labels it in audit lines. */
    public Issued issueTenant(Caller caller, TenantId tenant, TenantRole role, Optional<String> name) {
        String id = UUID.randomUUID().toString();
        String label = checkName(name.orElse(tenant + "-" + role.wireName()));
        ApiToken stored = new ApiToken(id, label, ApiToken.Kind.TENANT, Optional.empty(), Optional.of(tenant),
                Optional.of(role.wireName()), clock.instant());
        if (db.read(tx -> tenants.find(tx, tenant)).isEmpty()) {
            throw MvmException.notFound("tenant '" + tenant + "' not found");
        }
        return issue(caller, stored, "mvmt_", "tokens/" + id + " (tenant " + tenant + ", " + role.wireName() + ")");
    }

    public Issued issueMetrics(Caller caller, Optional<String> name) {
        String id = UUID.randomUUID().toString();
        ApiToken stored = new ApiToken(id, checkName(name.orElse("metrics")), ApiToken.Kind.METRICS, Optional.empty(),
                Optional.empty(), Optional.empty(), clock.instant());
        return issue(caller, stored, "mvmm_", "tokens/" + id + " (metrics)");
    }

    private Issued issue(Caller caller, ApiToken stored, String prefix, String what) {
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        String token = prefix + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        db.inTransaction(tx -> {
            tokens.insert(tx, stored, TokenAuthenticator.hash(token));
            audit.clusterChanged(tx, caller, kindName(stored.kind()) + ".create", what);
            return null;
        });
        return new Issued(stored.id(), stored, token);
    }

    public List<TokenRecord> list(ApiToken.Kind kind) {
        return db.read(tx -> tokens.list(tx, kind));
    }

    /**
     * Revokes a token of {@code kind}; revoking one that is already revoked changes nothing and
     * succeeds. NOT_FOUND for an id that names no such token (the admin token is not revoked here).
     */
    public TokenRecord revoke(Caller caller, ApiToken.Kind kind, String id) {
        if (kind == ApiToken.Kind.ADMIN) {
            throw MvmException.invalid("the admin token is not revoked through the API");
        }
        TokenRecord revoked = db.inTransaction(tx -> {
            TokenRecord token = tokens.find(tx, kind, id)
                    .orElseThrow(() -> MvmException.notFound("no " + kindName(kind).replace('-', ' ') + " with id " + id));
            // The conditional update decides, not the read above: two concurrent revokes (PostgreSQL
            // runs READ COMMITTED) both read "valid", but only one update changes the row.
            if (token.revokedAt().isEmpty() && tokens.revoke(tx, kind, id, clock.instant())) {
                audit.clusterChanged(tx, caller, kindName(kind) + ".revoke", (kind == ApiToken.Kind.NODE
                        ? "node-tokens/" : "tokens/") + id + " (" + scope(token.token()) + ")");
            }
            return tokens.find(tx, kind, id).orElseThrow();
        });
        onRevoke.accept(id);
        return revoked;
    }

    private static String scope(ApiToken t) {
        return t.node().map(n -> "node " + n).or(() -> t.tenant().map(x -> "tenant " + x + ", " + t.role().orElse("")))
                .orElse(t.kind().name().toLowerCase(Locale.ROOT));
    }

    private static String kindName(ApiToken.Kind kind) {
        return kind == ApiToken.Kind.NODE ? "node-token" : "token";
    }

    private static String checkName(String name) {
        if (!NAME.matcher(name).matches()) {
            throw MvmException.invalid("invalid token name '" + name + "': use 1-63 letters, digits, '.', '_' or '-'");
        }
        return name;
    }
}
