package io.mvm.store.auth;

import io.mvm.model.NodeId;
import java.time.Instant;
import java.util.Optional;

/**
 * A bearer token's stored identity (never the token itself). Admin tokens may do anything; node
 * tokens (added by the agent work) are scoped to one node.
 */
public record ApiToken(String id, String name, Kind kind, Optional<NodeId> node, Instant createdAt) {
    public enum Kind { ADMIN, NODE }

    /** How the token appears in audit lines. */
    public String actor() {
        return kind.name().toLowerCase(java.util.Locale.ROOT) + ":" + name;
    }
}
