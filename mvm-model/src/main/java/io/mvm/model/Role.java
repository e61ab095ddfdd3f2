package io.mvm.model;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * A pool's role. The priority orders reconciliation within a tenant: scale-up and wake go in
 * ascending priority (gateways first, so the network is there before workers), sleep and
 * scale-down in descending priority.
 */
public enum Role {
    GATEWAY("gateway", 0, true, true),
    BUILDER("builder", 1, false, false),
    WORKER("worker", 2, false, true),
    CAPABILITY_IMESSAGE("capability-imessage", 3, false, false);

    private final String wireName;
    private final int priority;
    private final boolean requiresConfigDrive;
    private final boolean requiresSecretsDrive;

    Role(String wireName, int priority, boolean requiresConfigDrive, boolean requiresSecretsDrive) {
        this.wireName = wireName;
        this.priority = priority;
        this.requiresConfigDrive = requiresConfigDrive;
        this.requiresSecretsDrive = requiresSecretsDrive;
    }

    public static final Role DEFAULT = WORKER;

    /** Scale-up order. */
    public static final Comparator<Role> SCALE_UP_ORDER = Comparator.comparingInt(Role::priority);

    /** Sleep and scale-down order. */
    public static final Comparator<Role> SCALE_DOWN_ORDER = SCALE_UP_ORDER.reversed();

    public String wireName() {
        return wireName;
    }

    public int priority() {
        return priority;
    }

    public boolean requiresConfigDrive() {
        return requiresConfigDrive;
    }

    public boolean requiresSecretsDrive() {
        return requiresSecretsDrive;
    }

    /** Every role has a data drive; see roles.md's drive model. */
    public boolean hasDataDrive() {
        return true;
    }

    public static Role parse(String text) {
        for (Role r : values()) {
            if (r.wireName.equals(text)) {
                return r;
            }
        }
        throw MvmException.invalid("unknown role '" + text + "': expected one of "
                + Arrays.stream(values()).map(Role::wireName).toList());
    }

    public static List<String> wireNames() {
        return Arrays.stream(values()).map(Role::wireName).toList();
    }

    @Override
    public String toString() {
        return wireName;
    }
}
