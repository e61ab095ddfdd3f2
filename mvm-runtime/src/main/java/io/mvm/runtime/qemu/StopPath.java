package io.mvm.runtime.qemu;

import java.util.Locale;

/**
 * Which step of a stop ended the VMM, from gentlest to hardest. Recorded as the reason of the
 * STOPPED handle, so a stop that had to fall back to QMP quit or SIGKILL (and may have lost
 * unsynced guest writes) is visible afterwards.
 */
public enum StopPath {
    /** The guest synced and powered itself off through its agent. */
    GUEST_POWEROFF,
    /** The guest did not go down in time; QEMU quit on request (guest caches not flushed). */
    QMP_QUIT,
    /** QEMU did not quit either and was killed. */
    SIGKILL,
    /** There was no live VMM to stop. */
    ALREADY_EXITED;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The STOPPED handle's reason: {@code "stopped via guest-poweroff"}, or null when nothing ran. */
    String reason() {
        return this == ALREADY_EXITED ? null : "stopped via " + wireName();
    }

    /** The path a STOPPED handle's reason names, if any. */
    public static java.util.Optional<StopPath> fromReason(String reason) {
        for (StopPath path : values()) {
            if (path.reason() != null && path.reason().equals(reason)) {
                return java.util.Optional.of(path);
            }
        }
        return java.util.Optional.empty();
    }
}
