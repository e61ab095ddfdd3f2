package io.mvm.core.lifecycle;

import io.mvm.model.MvmException;
import java.util.Arrays;
import java.util.Locale;

/** A user's request to move one instance; each names the desired state it asks for. */
public enum InstanceAction {
    START(DesiredState.RUNNING),
    STOP(DesiredState.STOPPED),
    WARM(DesiredState.WARM),
    SLEEP(DesiredState.SLEEPING),
    WAKE(DesiredState.RUNNING);

    private final DesiredState target;

    InstanceAction(DesiredState target) {
        this.target = target;
    }

    public DesiredState target() {
        return target;
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static InstanceAction parse(String text) {
        for (InstanceAction a : values()) {
            if (a.wireName().equals(text)) {
                return a;
            }
        }
        throw MvmException.invalid("unknown instance action '" + text + "': expected one of "
                + Arrays.stream(values()).map(InstanceAction::wireName).toList());
    }

    @Override
    public String toString() {
        return wireName();
    }
}
