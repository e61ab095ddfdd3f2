package io.mvm.runtime.snapshot;

import io.mvm.runtime.backend.HandleJournal;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Backends that can keep guest RAM in a named file, save a booted VM as a golden snapshot and start
 * clones that map that RAM copy-on-write. Like the other optional abilities of the backend SPI,
 * implementing it is the capability.
 */
public interface MemorySharing {

    /** Boots a VM whose RAM lives in a file in its directory (shared mapping), so it can become a template. */
    VmHandle startTemplate(VmSpec spec, Path vmDir, HandleJournal journal);

    /**
     * Drains the running template, saves its device state and RAM as a golden snapshot in
     * {@code snapshotDir} (which must not exist yet) and ends its VMM, so the RAM file is never
     * written again. The template VM is left STOPPED.
     */
    GoldenSnapshot saveGolden(VmSpec spec, VmHandle template, Path snapshotDir, Duration drainDeadline, HandleJournal journal);

    /**
     * Starts a new VM from a golden snapshot: checks compatibility and the snapshot's files, maps the
     * RAM copy-on-write, loads the device state and gives the guest its own identity before
     * returning. Fails, with nothing left running, when anything differs or is damaged.
     */
    ClonedVm startClone(VmSpec spec, GoldenSnapshot snapshot, Path vmDir, HandleJournal journal);

    /** A started clone and where its time went, phase by phase, in milliseconds. */
    record ClonedVm(VmHandle handle, java.util.Map<String, Long> phaseMillis, long totalMillis, long generation) {
        public ClonedVm {
            phaseMillis = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(phaseMillis));
        }
    }
}
