package io.mvm.agent.reconcile;

import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.DesiredSnapshot;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/**
 * The latest desired state the coordinator sent. Starts unconfirmed on every agent start: the
 * agent keeps no intent of its own, so until the first response arrives it creates and destroys
 * nothing.
 *
 * <p>{@link #current()} is what the node works towards: the coordinator's answer with an optional
 * overlay applied per instance — the idle policy's delegated choice between running, warm and
 * sleeping for instances the coordinator wants running (docs/architecture.md, "Scale to zero").
 * {@link #coordinator()} is the answer as it came.
 */
public final class DesiredStateHolder {
    private final AtomicReference<DesiredSnapshot> current = new AtomicReference<>(DesiredSnapshot.unconfirmed());

    private volatile UnaryOperator<DesiredInstance> overlay = UnaryOperator.identity();
    /** Self-fencing's overlay, applied after the idle policy's (it only ever pauses more). */
    private volatile UnaryOperator<DesiredInstance> fence = UnaryOperator.identity();

    public DesiredSnapshot current() {
        var snapshot = current.get();
        var o = overlay;
        var f = fence;
        if (!snapshot.authoritative() || (o == UnaryOperator.<DesiredInstance>identity()
                && f == UnaryOperator.<DesiredInstance>identity())) {
            return snapshot;
        }
        return new DesiredSnapshot(snapshot.generation(), true,
                snapshot.instances().stream().map(o).map(f).toList(), snapshot.peers());
    }

    /** Sets self-fencing's overlay (see {@code fence.SelfFenceGuard}). */
    public void fence(UnaryOperator<DesiredInstance> fence) {
        this.fence = Objects.requireNonNull(fence, "fence");
    }

    /** The coordinator's latest answer, without the overlay. */
    public DesiredSnapshot coordinator() {
        return current.get();
    }

    /** Sets the per-instance overlay {@link #current()} applies (it must keep ids and specs as they are). */
    public void overlay(UnaryOperator<DesiredInstance> overlay) {
        this.overlay = Objects.requireNonNull(overlay, "overlay");
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
