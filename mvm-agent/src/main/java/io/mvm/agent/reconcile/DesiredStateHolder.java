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

    /** Installs {@code next} unless it is older than what we have; returns true when it was installed. */
    public boolean offer(DesiredSnapshot next) {
        while (true) {
            var now = current.get();
            if (now.authoritative() && next.generation() < now.generation()) {
                return false;
            }
            if (current.compareAndSet(now, next)) {
                return true;
            }
        }
    }
}
