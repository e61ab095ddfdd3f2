package io.mvm.core.lifecycle;

import static io.mvm.model.InstanceState.*;

import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The instance state machine, as two pure functions: which observed moves an agent may report,
 * and which user actions are allowed from the current intent. Everything else in mvm asks here
 * instead of keeping its own rules.
 */
public final class InstanceLifecycle {
    private static final Map<InstanceState, Set<InstanceState>> OBSERVED = new EnumMap<>(InstanceState.class);

    static {
        OBSERVED.put(PENDING, EnumSet.of(CREATING, STOPPED, FAILED, DESTROYED));
        OBSERVED.put(CREATING, EnumSet.of(RUNNING, WARM, STOPPED, FAILED, DESTROYED));
        OBSERVED.put(RUNNING, EnumSet.of(PAUSING, SNAPSHOTTING, STOPPING, FAILED, DESTROYED));
        OBSERVED.put(PAUSING, EnumSet.of(WARM, RUNNING, FAILED, DESTROYED));
        OBSERVED.put(WARM, EnumSet.of(RUNNING, SNAPSHOTTING, STOPPING, FAILED, DESTROYED));
        OBSERVED.put(SNAPSHOTTING, EnumSet.of(SLEEPING, RUNNING, WARM, FAILED, DESTROYED));
        OBSERVED.put(SLEEPING, EnumSet.of(WAKING, STOPPED, DESTROYED));
        OBSERVED.put(WAKING, EnumSet.of(RUNNING, WARM, SLEEPING, FAILED, DESTROYED));
        OBSERVED.put(STOPPING, EnumSet.of(STOPPED, FAILED, DESTROYED));
        OBSERVED.put(STOPPED, EnumSet.of(CREATING, DESTROYED));
        OBSERVED.put(FAILED, EnumSet.of(CREATING, STOPPED, DESTROYED));
        // A lost node's instances come back in whatever state the agent finds.
        OBSERVED.put(UNKNOWN, EnumSet.complementOf(EnumSet.of(UNKNOWN, PENDING)));
        OBSERVED.put(DESTROYED, EnumSet.noneOf(InstanceState.class));
    }

    private InstanceLifecycle() {}

    /** Whether an agent may report {@code to} after {@code from}. Staying put is always allowed. */
    public static boolean canObserve(InstanceState from, InstanceState to) {
        if (from == to) {
            return true;
        }
        if (to == UNKNOWN) {
            return from != DESTROYED;
        }
        return OBSERVED.get(from).contains(to);
    }

    /**
     * The desired state after {@code action}, or a CONFLICT naming why it cannot apply. Asking for
     * what is already wanted is allowed (idempotent retries from the CLI).
     */
    public static DesiredState apply(InstanceAction action, DesiredState current, InstanceState observed) {
        if (current == DesiredState.DESTROYED || observed == DESTROYED) {
            throw MvmException.conflict("cannot " + action + " an instance that is being destroyed");
        }
        if (current == action.target()) {
            return current;
        }
        boolean allowed = switch (action) {
            case START -> current == DesiredState.STOPPED;
            case STOP -> true;
            case WARM -> current == DesiredState.RUNNING;
            case SLEEP -> current == DesiredState.RUNNING || current == DesiredState.WARM;
            case WAKE -> current == DesiredState.WARM || current == DesiredState.SLEEPING;
        };
        if (!allowed) {
            throw MvmException.conflict("cannot " + action + " an instance that is " + current
                    + hint(action, current));
        }
        return action.target();
    }

    private static String hint(InstanceAction action, DesiredState current) {
        return switch (action) {
            case START -> current == DesiredState.STOPPED ? "" : " (use wake for warm or sleeping instances)";
            case WARM -> current == DesiredState.STOPPED ? " (start it first)" : " (wake it first)";
            case SLEEP -> " (start it first)";
            case WAKE -> " (use start for stopped instances)";
            case STOP -> "";
        };
    }
}
