package io.mvm.store.auth;

import io.mvm.model.NodeId;
import io.mvm.model.TenantId;
import java.time.Instant;
import java.util.Optional;

/**
 * A bearer token's stored identity (never the token itself). Admin tokens may do anything the
 * cluster's operator may; node tokens speak for one node; tenant tokens act within one tenant
 * with a role ({@code tenant-admin} or {@code tenant-read}); metrics tokens only read
 * {@code /metrics}.
 */
public record ApiToken(String id, String name, Kind kind, Optional<NodeId> node, Optional<TenantId> tenant,
                       Optional<String> role, Instant createdAt) {
    public enum Kind { ADMIN, NODE, TENANT, METRICS }

    public static ApiToken admin(String id, String name, Instant createdAt) {
        return new ApiToken(id, name, Kind.ADMIN, Optional.empty(), Optional.empty(), Optional.empty(), createdAt);
    }

    public static ApiToken node(String id, NodeId node, Instant createdAt) {
        return new ApiToken(id, node.value(), Kind.NODE, Optional.of(node), Optional.empty(), Optional.empty(), createdAt);
    }

    /** How the token appears in audit lines. */
    public String actor() {
        return kind.name().toLowerCase(java.util.Locale.ROOT) + ":" + name;
    }
}
