package io.mvm.coordinator.auth;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.TenantId;
import java.util.Optional;

/**
 * Who is asking, as it appears in audit lines (a token's kind and name, never the token), and
 * what its token lets it act as. Route access is decided once at the edge ({@link Access}); the
 * checks here are the services' own second line.
 */
public record Caller(String actor, Principal principal) {
    public static final Caller SYSTEM = new Caller("system");

    /** The coordinator's own work (housekeeping, the desired-VMs file): admin rights. */
    public Caller(String actor) {
        this(actor, new Principal.Admin());
    }

    public boolean isNode() {
        return principal instanceof Principal.Node;
    }

    public Optional<NodeId> node() {
        return principal instanceof Principal.Node(NodeId n) ? Optional.of(n) : Optional.empty();
    }

    /** The tenant a tenant token is limited to (empty for every other kind). */
    public Optional<TenantId> tenant() {
        return principal instanceof Principal.TenantMember(TenantId t, TenantRole r) ? Optional.of(t) : Optional.empty();
    }

    /** Node tokens may only act for their own node; admins for any. */
    public void requireNodeOrAdmin(NodeId target) {
        switch (principal) {
            case Principal.Admin a -> { }
            case Principal.Node(NodeId own) when own.equals(target) -> { }
            case Principal.Node(NodeId own) -> throw new MvmException(ErrorCategory.PERMISSION_DENIED,
                    "this node token belongs to node '" + own + "' and may not act for node '" + target + "'");
            default -> throw new MvmException(ErrorCategory.PERMISSION_DENIED, "only node '" + target
                    + "' or an admin may do this");
        }
    }

    public void requireAdmin() {
        if (!(principal instanceof Principal.Admin)) {
            throw new MvmException(ErrorCategory.PERMISSION_DENIED, "this needs the admin token");
        }
    }
}
