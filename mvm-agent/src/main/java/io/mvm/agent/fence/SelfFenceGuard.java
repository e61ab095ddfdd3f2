package io.mvm.agent.fence;

import io.mvm.core.fence.SelfFence;
import io.mvm.core.fence.SelfFence.Stage;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.Target;
import java.time.Instant;
import java.time.InstantSource;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's side of {@link SelfFence}: remembers when a coordinator last answered (any call:
 * heartbeat, desired state, report, registration) and turns the silence into a stage. Reconcile
 * passes ask {@link #acceptsNewWork()}; the desired state is overlaid by {@link #overlay} (every
 * instance wanted running becomes warm, i.e. paused, while the stage is PAUSED). Each change of
 * stage calls {@code changed}, which re-reconciles everything.
 */
public final class SelfFenceGuard {
    private static final Logger log = LoggerFactory.getLogger(SelfFenceGuard.class);
    private final InstantSource clock;
    private final Runnable changed;
    private volatile SelfFence policy;
    private volatile Instant lastContact;
    private volatile Stage stage = Stage.CONNECTED;

    /** Counts silence from construction: an agent that starts cut off fences after a lease too. */
    public SelfFenceGuard(SelfFence policy, InstantSource clock, Runnable changed) {
        this.policy = policy;
        this.clock = clock;
        this.changed = changed;
        this.lastContact = clock.instant();
    }

    public void policy(SelfFence p) {
        this.policy = java.util.Objects.requireNonNull(p, "policy");
    }

    public SelfFence policy() {
        return policy;
    }

    /** A coordinator answered now. */
    public void contact() {
        lastContact = clock.instant();
        if (stage != Stage.CONNECTED) {
            tick();
        }
    }

    /** Re-judges the stage now; returns it. */
    public synchronized Stage tick() {
        Instant now = clock.instant();
        Stage next = policy.judge(lastContact, now);
        Stage before = stage;
        if (next != before) {
            stage = next;
            switch (next) {
                case CONNECTED -> log.info("a coordinator answered again: self-fencing lifted, reconciling everything");
                case NO_NEW_WORK -> log.warn("no coordinator reached since {}: self-fenced, starting nothing new", lastContact);
                case PAUSED -> log.warn("no coordinator reached since {}: pausing running VMs (they resume when a"
                        + " coordinator answers and still wants them)", lastContact);
            }
            changed.run();
        }
        return next;
    }

    public Stage stage() {
        return stage;
    }

    public Instant lastContact() {
        return lastContact;
    }

    /** False once the agent has been cut off for longer than its lease. */
    public boolean acceptsNewWork() {
        return stage == Stage.CONNECTED;
    }

    /** Applied over the desired state: while PAUSED, what should run is held paused (warm). */
    public UnaryOperator<DesiredInstance> overlay() {
        return d -> stage == Stage.PAUSED && d.target() == Target.RUNNING ? d.withTarget(Target.WARM) : d;
    }
}
