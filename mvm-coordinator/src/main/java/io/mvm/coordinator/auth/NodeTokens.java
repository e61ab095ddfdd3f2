package io.mvm.coordinator.auth;

import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.store.auth.ApiToken;
import io.mvm.store.auth.TokenStore;
import io.mvm.store.auth.TokenStore.NodeTokenRecord;
import io.mvm.store.db.Database;
import java.security.SecureRandom;
import java.time.InstantSource;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Node tokens: 256 random bits, shown once to whoever asked, stored only as a hash, scoped to one
 * node (it may register, heartbeat, read and report that node and nothing else). Listing shows
 * ids, nodes and dates, never a secret; a revoked token is refused from the next request on
 * (every request looks its token up, nothing is cached). Issuing and revoking are audited in the
 * cluster's trail (no tenant).
 */
public final class NodeTokens {
    private final Database db;
    private final TokenStore tokens;
    private final AuditTrail audit;
    private final SecureRandom random;
    private final InstantSource clock;

    public NodeTokens(Database db, TokenStore tokens, AuditTrail audit, SecureRandom random, InstantSource clock) {
        this.db = db;
        this.tokens = tokens;
        this.audit = audit;
        this.random = random;
        this.clock = clock;
    }

    public record Issued(String id, NodeId node, String token) {
        @Override
        public String toString() {
            return "Issued[id=" + id + ", node=" + node + ", token=(hidden)]";
        }
    }

    public Issued issue(Caller caller, NodeId node) {
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        String token = "mvmn_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        String id = UUID.randomUUID().toString();
        db.inTransaction(tx -> {
            tokens.insert(tx, new ApiToken(id, node.value(), ApiToken.Kind.NODE, Optional.of(node), clock.instant()),
                    TokenAuthenticator.hash(token));
            audit.clusterChanged(tx, caller, "node-token.create", "node-tokens/" + id + " (node " + node + ")");
            return null;
        });
        return new Issued(id, node, token);
    }

    public List<NodeTokenRecord> list() {
        return db.read(tokens::nodeTokens);
    }

    /**
     * Revokes a node token; revoking one that is already revoked changes nothing and succeeds.
     * NOT_FOUND for an id that names no node token (admin tokens are not revoked here).
     */
    public NodeTokenRecord revoke(Caller caller, String id) {
        return db.inTransaction(tx -> {
            NodeTokenRecord token = tokens.nodeToken(tx, id)
                    .orElseThrow(() -> MvmException.notFound("no node token with id " + id));
            // The conditional update decides, not the read above: two concurrent revokes (PostgreSQL
            // runs READ COMMITTED) both read "valid", but only one update changes the row.
            if (token.revokedAt().isEmpty() && tokens.revokeNodeToken(tx, id, clock.instant())) {
                audit.clusterChanged(tx, caller, "node-token.revoke", "node-tokens/" + id + " (node " + token.node() + ")");
            }
            return tokens.nodeToken(tx, id).orElseThrow();
        });
    }
}
