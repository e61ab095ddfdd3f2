package io.mvm.model;

import java.util.Arrays;
import java.util.Locale;

/**
 * Lifecycle states of an instance. Stable states are the ones desired counts speak of; the
 * transitional ones say an operation is under way. Which moves are allowed is decided by one pure
 * function in mvm-core ({@code io.mvm.core.lifecycle}), not here.
 */
public enum InstanceState {
    /** Intent exists, not yet placed or not yet acted on by a node. */
    PENDING(false),
    /** The node is creating drives and booting the VMM. */
    CREATING(false),
    /** vCPUs executing, guest agent answered. */
    RUNNING(true),
    /** Being paused. */
    PAUSING(false),
    /** vCPUs paused, memory resident: fastest resume. */
    WARM(true),
    /** Draining and writing a snapshot. */
    SNAPSHOTTING(false),
    /** Snapshot on disk, VMM process gone. */
    SLEEPING(true),
    /** Restoring a snapshot. */
    WAKING(false),
    /** Being stopped. */
    STOPPING(false),
    /** Off, no snapshot retained; data drive kept. */
    STOPPED(true),
    /** Gave up after repeated failures; see last error. */
    FAILED(true),
    /**
     * State not known: the node that runs it is lost, or its VMM lives but did not answer a status
     * query (never a reason to act on it; see docs/runtime.md).
     */
    UNKNOWN(false),
    /** Gone for good. */
    DESTROYED(true);

    private final boolean stable;

    InstanceState(boolean stable) {
        this.stable = stable;
    }

    public boolean stable() {
        return stable;
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static InstanceState parse(String text) {
        for (InstanceState s : values()) {
            if (s.wireName().equals(text)) {
                return s;
            }
        }
        throw MvmException.invalid("unknown instance state '" + text + "': expected one of "
                + Arrays.stream(values()).map(InstanceState::wireName).toList());
    }

    @Override
    public String toString() {
        return wireName();
    }
}
