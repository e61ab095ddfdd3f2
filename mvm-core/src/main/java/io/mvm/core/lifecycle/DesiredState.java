package io.mvm.core.lifecycle;

import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import java.util.Arrays;
import java.util.Locale;

/**
 * What the coordinator wants an instance to be. Only stable states can be wanted; the observed
 * {@link InstanceState} (reported by host agents) converges towards it.
 */
public enum DesiredState {
    RUNNING(InstanceState.RUNNING),
    WARM(InstanceState.WARM),
    SLEEPING(InstanceState.SLEEPING),
    STOPPED(InstanceState.STOPPED),
    DESTROYED(InstanceState.DESTROYED);

    private final InstanceState observedEquivalent;

    DesiredState(InstanceState observedEquivalent) {
        this.observedEquivalent = observedEquivalent;
    }

    /** The observed state in which an agent has met this intent. */
    public InstanceState observedEquivalent() {
        return observedEquivalent;
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static DesiredState parse(String text) {
        for (DesiredState s : values()) {
            if (s.wireName().equals(text)) {
                return s;
            }
        }
        throw MvmException.invalid("unknown desired state '" + text + "': expected one of "
                + Arrays.stream(values()).map(DesiredState::wireName).toList());
    }

    @Override
    public String toString() {
        return wireName();
    }
}
