package io.mvm.core.reconcile;

import io.mvm.model.MvmException;
import java.util.Arrays;
import java.util.Locale;

/** The stable state the coordinator wants one instance in. */
public enum Target {
    RUNNING,
    WARM,
    SLEEPING,
    STOPPED,
    DESTROYED;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Target parse(String text) {
        for (var t : values()) {
            if (t.wireName().equals(text)) {
                return t;
            }
        }
        throw MvmException.invalid("unknown desired state '" + text + "': expected one of "
                + Arrays.stream(values()).map(Target::wireName).toList());
    }

    @Override
    public String toString() {
        return wireName();
    }
}
