package io.mvm.coordinator.auth;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import java.util.Optional;

/**
 * Who is asking, as it appears in audit lines (a token's kind and name, never the token), and —
 * for a node token — the one node it speaks for.
 */
public record Caller(String actor, Optional<NodeId> node) {
    public static final Caller SYSTEM = new Caller("system", Optional.empty());

    public Caller(String actor) {
        this(actor, Optional.empty());
    }

    public boolean isNode() {
        return node.isPresent();
    }

    /** Node tokens may only act for their own node. */
    public void requireNodeOrAdmin(NodeId target) {
        if (node.isPresent() && !node.get().equals(target)) {
            throw new MvmException(ErrorCategory.PERMISSION_DENIED, "this node token belongs to node '" + node.get()
                    + "' and may not act for node '" + target + "'");
        }
    }

    public void requireAdmin() {
        if (node.isPresent()) {
            throw new MvmException(ErrorCategory.PERMISSION_DENIED, "a node token may only use its own node's routes");
        }
    }
}
