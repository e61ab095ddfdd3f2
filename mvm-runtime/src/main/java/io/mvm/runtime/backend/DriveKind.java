package io.mvm.runtime.backend;

import io.mvm.model.MvmException;
import java.util.Arrays;
import java.util.Locale;

/**
 * The extra drives a VM may have beside its read-only root. The guest finds each by its ext4
 * label and mounts it at a fixed place; a VM without a drive simply does not get that mount.
 */
public enum DriveKind {
    /** Persistent, read-write, mounted at /data; survives stop/start and sleep/wake. */
    DATA("mvm-data"),
    /** Read-only, mounted at /run/secrets; rebuilt on every start and wake. */
    SECRETS("mvm-secrets"),
    /** Read-only, mounted at /etc/mvm-config; versioned. */
    CONFIG("mvm-config");

    private final String label;

    DriveKind(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static DriveKind parse(String text) {
        for (DriveKind kind : values()) {
            if (kind.wireName().equals(text)) {
                return kind;
            }
        }
        throw MvmException.invalid("unknown drive kind '" + text + "': expected one of "
                + Arrays.stream(values()).map(DriveKind::wireName).toList());
    }
}
