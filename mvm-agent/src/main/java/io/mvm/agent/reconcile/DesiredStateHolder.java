package io.mvm.agent.reconcile;

import io.mvm.core.reconcile.DesiredSnapshot;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The latest desired state the coordinator sent. Starts unconfirmed on every agent start: the
 * agent keeps no intent of its own, so until the first response arrives it creates and destroys
 * nothing.
 */
public final class DesiredStateHolder {
    private final AtomicReference<DesiredSnapshot> current = new AtomicReference<>(DesiredSnapshot.unconfirmed());

    public DesiredSnapshot current() {
        return current.get();
    }

    /**
     * Installs the coordinator's latest answer and returns the one it replaced. Answers come from
     * one follower thread in order, so the newest answer wins even when its generation is lower
     * (a coordinator whose generations restarted is still the authority).
     */
    public DesiredSnapshot install(DesiredSnapshot next) {
        if (!next.authoritative()) {
            throw new IllegalArgumentException("only coordinator answers may be installed");
        }
        return current.getAndSet(next);
    }
}
