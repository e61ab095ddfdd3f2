package io.mvm.runtime.backend;

import java.time.Duration;

/** Backends that can write a VM's memory and device state to a file and later restore it. */
public interface Snapshottable {
    /**
     * Drains the guest (cooperatively, bounded by {@code drainDeadline}), writes a snapshot, and
     * lets the VMM exit. The returned handle is {@code SLEEPING} and names the snapshot file.
     */
    VmHandle sleep(VmHandle handle, Duration drainDeadline, HandleJournal journal);

    /**
     * Restores a sleeping VM with the same devices it had, after rebuilding its secrets drive
     * from {@code spec}, and tells the guest to reload its secrets.
     */
    VmHandle wake(VmSpec spec, VmHandle handle, HandleJournal journal);
}
