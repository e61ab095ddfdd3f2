package io.mvm.coordinator.auth;

import io.mvm.model.NodeId;
import io.mvm.model.TenantId;
import java.util.Optional;

/**
 * What a route needs, declared once per route where it is registered (the one table every
 * request is checked against at the edge). {@link #decide} is the whole policy, pure.
 */
public enum Access {
    /** Anyone, without a token ({@code /healthz}). */
    PUBLIC,
    /** Any valid token ({@code /openapi.json}). */
    ANY_TOKEN,
    /** The admin token or a metrics token ({@code /metrics}). */
    METRICS,
    /** The admin token only: cluster-wide changes and views. */
    ADMIN,
    /** The admin token or the node's own token (a node's view). */
    NODE_OR_ADMIN,
    /** A node's own token only: the agent protocol, desired state with secrets included. */
    NODE_SELF,
    /** Any node token (registration; the service checks it registers itself). */
    ANY_NODE,
    /** The admin token or any tenant token; the handler lists only the caller's tenant for the latter. */
    TENANT_LIST,
    /** The admin token or a tenant token of the resource's tenant. */
    TENANT_READ,
    /** The admin token or a tenant-admin token of the resource's tenant. */
    TENANT_WRITE,
    /** The admin token, any tenant token or any node token: the cluster's template catalog. */
    CATALOG_READ,
    /** The admin token or any node token: content nodes fetch (template artifacts). */
    ANY_NODE_OR_ADMIN;

    /**
     * Why {@code principal} may not use a route needing this access on a resource of
     * {@code tenant} / {@code node}; empty when it may.
     */
    public Optional<String> decide(Principal principal, Optional<TenantId> tenant, Optional<NodeId> node) {
        return switch (this) {
            case PUBLIC, ANY_TOKEN -> Optional.empty();
            case METRICS -> principal instanceof Principal.Admin || principal instanceof Principal.MetricsReader
                    ? Optional.empty() : deny(principal, "the admin or a metrics token");
            case ADMIN -> principal instanceof Principal.Admin ? Optional.empty() : deny(principal, "the admin token");
            case NODE_OR_ADMIN -> principal instanceof Principal.Admin || ownNode(principal, node) ? Optional.empty()
                    : deny(principal, "the admin token or node " + node.map(NodeId::value).orElse("?") + "'s token");
            case NODE_SELF -> ownNode(principal, node) ? Optional.empty()
                    : deny(principal, "node " + node.map(NodeId::value).orElse("?") + "'s own token");
            case ANY_NODE -> principal instanceof Principal.Node ? Optional.empty() : deny(principal, "a node token");
            case TENANT_LIST -> principal instanceof Principal.Admin || principal instanceof Principal.TenantMember
                    ? Optional.empty() : deny(principal, "the admin or a tenant token");
            case TENANT_READ -> principal instanceof Principal.Admin || member(principal, tenant, false)
                    ? Optional.empty() : deny(principal, "the admin token or a token of tenant " + name(tenant));
            case TENANT_WRITE -> principal instanceof Principal.Admin || member(principal, tenant, true)
                    ? Optional.empty() : deny(principal, "the admin token or a tenant-admin token of tenant " + name(tenant));
            case CATALOG_READ -> principal instanceof Principal.Admin || principal instanceof Principal.TenantMember
                    || principal instanceof Principal.Node ? Optional.empty()
                    : deny(principal, "the admin, a tenant or a node token");
            case ANY_NODE_OR_ADMIN -> principal instanceof Principal.Admin || principal instanceof Principal.Node
                    ? Optional.empty() : deny(principal, "the admin or a node token");
        };
    }

    private static boolean ownNode(Principal p, Optional<NodeId> node) {
        return p instanceof Principal.Node(NodeId own) && node.map(own::equals).orElse(false);
    }

    private static boolean member(Principal p, Optional<TenantId> tenant, boolean write) {
        return p instanceof Principal.TenantMember(TenantId own, TenantRole role) && tenant.map(own::equals).orElse(false)
                && (!write || role == TenantRole.TENANT_ADMIN);
    }

    private static String name(Optional<TenantId> tenant) {
        return tenant.map(TenantId::value).orElse("?");
    }

    private static Optional<String> deny(Principal p, String needs) {
        String what = switch (p) {
            case Principal.Admin a -> "the admin token";
            case Principal.Node(NodeId n) -> "node " + n + "'s token";
            case Principal.TenantMember(TenantId t, TenantRole r) -> "a " + r.wireName() + " token of tenant " + t;
            case Principal.MetricsReader m -> "a metrics token";
        };
        return Optional.of("this needs " + needs + "; " + what + " may not use it");
    }
}
