package io.mvm.core.liveness;

import io.mvm.model.MvmException;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * A pool's rule for its instances on a node that is lost past its grace period. Data cannot move
 * with an instance yet (a data disk or a sleeping snapshot stays on its node), so recreating it
 * elsewhere starts it empty: that must be chosen, never happen by default.
 */
public enum OnNodeLost {
    /** {@link #WAIT} for an instance that has a data disk or a snapshot, {@link #RECREATE} otherwise. */
    AUTO,
    /** Stay assigned to the lost node until it returns or an operator evacuates the instance. */
    WAIT,
    /** Recreate the instance on another node (without its data). */
    RECREATE;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static OnNodeLost parse(String text) {
        for (OnNodeLost p : values()) {
            if (p.wireName().equals(text)) {
                return p;
            }
        }
        throw MvmException.invalid("on_node_lost must be one of "
                + Arrays.stream(values()).map(OnNodeLost::wireName).collect(Collectors.joining(", ")) + ", got '"
                + text + "'");
    }

    /** Whether an instance with or without data waits for its lost node under this rule. */
    public boolean waits(boolean hasData) {
        return this == WAIT || (this == AUTO && hasData);
    }
}
