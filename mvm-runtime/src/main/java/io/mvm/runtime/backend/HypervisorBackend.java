package io.mvm.runtime.backend;

import io.mvm.runtime.guest.GuestChannel;
import java.nio.file.Path;
import java.time.Duration;

/**
 * One way of running microVMs on this host (QEMU microvm today, Firecracker later). Everything
 * backend-specific (command lines, control sockets) stays behind this interface; callers only see
 * {@link VmSpec} in and {@link VmHandle} out.
 *
 * <p>Every operation that changes a VM records the resulting handle through the
 * {@link HandleJournal} before it returns, so a crash right after an acknowledgement never loses
 * track of a running VMM. Optional abilities are separate interfaces: implementing
 * {@link Pausable} or {@link Snapshottable} <em>is</em> the capability.
 */
public interface HypervisorBackend {

    /** Short stable name recorded in handles, e.g. {@code qemu}. */
    String name();

    Capabilities capabilities();

    Fingerprint fingerprint();

    /**
     * Checks backend-specific limits of a spec (already valid on its own), e.g. the length of the
     * kernel command line, so a caller can reject it before creating anything.
     */
    void validate(VmSpec spec);

    /**
     * Builds the drives, launches the VMM detached from the caller (own session, own cgroup where
     * available) and waits until the guest agent answers. On failure nothing keeps running.
     *
     * @param vmDir an existing directory owned by this VM; the backend decides the file names in it
     */
    VmHandle start(VmSpec spec, Path vmDir, HandleJournal journal);

    /**
     * Re-attaches to a VMM described by a handle written by an earlier process. Idempotent. Returns
     * the handle with its observed state; a VMM that is gone (or whose pid now belongs to another
     * process) comes back as {@code FAILED} with the reason, never as an exception.
     */
    VmHandle recover(VmHandle handle, HandleJournal journal);

    /** Graceful through the guest agent, then the VMM's own quit, then SIGKILL after the deadline. */
    VmHandle stop(VmHandle handle, Duration grace, HandleJournal journal);

    /** Kills the VMM if it still runs and removes everything the backend created for it. */
    void destroy(VmHandle handle);

    /**
     * Ends a VMM still running on {@code vmDir} that no handle records (launched by a runtime that
     * died before it journalled the pid), so one VM's drives never get two VMMs. Returns its pid.
     */
    default java.util.OptionalLong endOrphanedVmm(Path vmDir) {
        return java.util.OptionalLong.empty();
    }

    /**
     * The VM directory is leaving the backend's care without {@link #destroy} (it is being set aside
     * whole): give up what the backend holds for it outside it (the QEMU sandbox's user id).
     */
    default void releaseDirectory(Path vmDir) {}

    /** A new connection to the guest agent; the caller closes it. */
    GuestChannel guestChannel(VmHandle handle);
}
