package io.mvm.coordinator.auth;

import io.mvm.model.NodeId;
import io.mvm.store.auth.ApiToken;
import io.mvm.store.auth.TokenStore;
import io.mvm.store.db.Database;
import java.security.SecureRandom;
import java.time.InstantSource;
import java.util.Base64;
import java.util.Optional;
import java.util.UUID;

/**
 * Mints node tokens: 256 random bits, shown once to whoever asked, stored only as a hash, scoped
 * to one node (it may register, heartbeat, read and report that node and nothing else).
 */
public final class NodeTokens {
    private final Database db;
    private final TokenStore tokens;
    private final SecureRandom random;
    private final InstantSource clock;

    public NodeTokens(Database db, TokenStore tokens, SecureRandom random, InstantSource clock) {
        this.db = db;
        this.tokens = tokens;
        this.random = random;
        this.clock = clock;
    }

    public record Issued(String id, NodeId node, String token) {
        @Override
        public String toString() {
            return "Issued[id=" + id + ", node=" + node + ", token=(hidden)]";
        }
    }

    public Issued issue(NodeId node) {
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        String token = "mvmn_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        String id = UUID.randomUUID().toString();
        db.inTransaction(tx -> {
            tokens.insert(tx, new ApiToken(id, node.value(), ApiToken.Kind.NODE, Optional.of(node), clock.instant()),
                    TokenAuthenticator.hash(token));
            return null;
        });
        return new Issued(id, node, token);
    }
}
