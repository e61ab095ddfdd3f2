package io.mvm.runtime.backend;

import io.mvm.model.Accelerator;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import java.nio.file.Path;
import java.time.Instant;

/**
 * What a later process needs to find, check and control a VM again: persisted as JSON in the VM's
 * directory. {@code pidStartTicks} (field 22 of /proc/PID/stat) tells our VMM apart from an
 * unrelated process that got the same pid after ours died.
 *
 * @param controlSocket the backend's control endpoint (QMP for QEMU)
 * @param snapshot      snapshot file while sleeping, else null
 * @param cgroup        cgroup path relative to the controller roots, or null when not limited
 * @param stateReason   why the VM is in its state (for FAILED: what happened and the serial tail;
 *                      for STOPPED: which path ended the VMM)
 * @param imageDigests  sha256 and file identity of each guest image file the VM booted from (by
 *                      path), recorded at create so a wake can refuse to restore memory onto a
 *                      different rootfs/kernel; null in handles written before this field existed
 * @param vmmUid        the user id the recorded VMM runs as (its own, in the QEMU sandbox), 0 when
 *                      no VMM is recorded, it runs as root, or the handle predates this field
 */
public record VmHandle(
        int schemaVersion,
        String name,
        String backend,
        Accelerator accelerator,
        InstanceState state,
        String stateReason,
        long pid,
        long pidStartTicks,
        Path vmDir,
        Path controlSocket,
        Path agentSocket,
        Path serialLog,
        Path snapshot,
        String cgroup,
        String ip,
        Instant updatedAt,
        java.util.Map<String, ImageFileDigest> imageDigests,
        int vmmUid) {

    public static final int SCHEMA_VERSION = 1;

    public VmHandle {
        imageDigests = imageDigests == null ? null : java.util.Map.copyOf(imageDigests);
    }

    /** A handle whose VMM (if any) is not recorded with a user id of its own. */
    public VmHandle(int schemaVersion, String name, String backend, Accelerator accelerator, InstanceState state,
                    String stateReason, long pid, long pidStartTicks, Path vmDir, Path controlSocket, Path agentSocket,
                    Path serialLog, Path snapshot, String cgroup, String ip, Instant updatedAt,
                    java.util.Map<String, ImageFileDigest> imageDigests) {
        this(schemaVersion, name, backend, accelerator, state, stateReason, pid, pidStartTicks, vmDir, controlSocket,
                agentSocket, serialLog, snapshot, cgroup, ip, updatedAt, imageDigests, 0);
    }

    /** A handle without image digests (the shape before they were recorded). */
    public VmHandle(int schemaVersion, String name, String backend, Accelerator accelerator, InstanceState state,
                    String stateReason, long pid, long pidStartTicks, Path vmDir, Path controlSocket, Path agentSocket,
                    Path serialLog, Path snapshot, String cgroup, String ip, Instant updatedAt) {
        this(schemaVersion, name, backend, accelerator, state, stateReason, pid, pidStartTicks, vmDir, controlSocket,
                agentSocket, serialLog, snapshot, cgroup, ip, updatedAt, null, 0);
    }

    public VmHandle withImageDigests(java.util.Map<String, ImageFileDigest> digests, Instant now) {
        return new VmHandle(schemaVersion, name, backend, accelerator, state, stateReason, pid, pidStartTicks, vmDir,
                controlSocket, agentSocket, serialLog, snapshot, cgroup, ip, now, digests, vmmUid);
    }

    /** The VMM, which must be running for the operation at hand. */
    public VmmProcess requireLiveProcess() {
        if (process() == null || !process().isAlive()) {
            throw MvmException.precondition("the VMM of " + name() + " is not running");
        }
        return process();
    }

    /** Refuses {@code verb} unless this VM is in one of the {@code allowed} states. */
    public void requireState(String verb, InstanceState... allowed) {
        for (InstanceState s : allowed) {
            if (state() == s) {
                return;
            }
        }
        throw MvmException.precondition("cannot " + verb + " VM " + name() + " while it is " + state());
    }

    public VmHandle withState(InstanceState next, String reason, Instant now) {
        return new VmHandle(schemaVersion, name, backend, accelerator, next, reason, pid, pidStartTicks, vmDir,
                controlSocket, agentSocket, serialLog, snapshot, cgroup, ip, now, imageDigests, vmmUid);
    }

    /** The recorded VMM; forgetting it ({@code null}) forgets its user id too. */
    public VmHandle withProcess(VmmProcess process, Instant now) {
        return new VmHandle(schemaVersion, name, backend, accelerator, state, stateReason,
                process == null ? 0 : process.pid(), process == null ? 0 : process.startTicks(), vmDir,
                controlSocket, agentSocket, serialLog, snapshot, cgroup, ip, now, imageDigests,
                process == null ? 0 : vmmUid);
    }

    public VmHandle withVmmUid(int uid, Instant now) {
        return new VmHandle(schemaVersion, name, backend, accelerator, state, stateReason, pid, pidStartTicks, vmDir,
                controlSocket, agentSocket, serialLog, snapshot, cgroup, ip, now, imageDigests, uid);
    }

    public VmHandle withSnapshot(Path file, Instant now) {
        return new VmHandle(schemaVersion, name, backend, accelerator, state, stateReason, pid, pidStartTicks, vmDir,
                controlSocket, agentSocket, serialLog, file, cgroup, ip, now, imageDigests, vmmUid);
    }

    /** The guest's address after a claim gave a warm VM its tenant's network (null: none). */
    public VmHandle withIp(String value, Instant now) {
        return new VmHandle(schemaVersion, name, backend, accelerator, state, stateReason, pid, pidStartTicks, vmDir,
                controlSocket, agentSocket, serialLog, snapshot, cgroup, value, now, imageDigests);
    }

    public VmHandle withAccelerator(Accelerator value, Instant now) {
        return new VmHandle(schemaVersion, name, backend, value, state, stateReason, pid, pidStartTicks, vmDir,
                controlSocket, agentSocket, serialLog, snapshot, cgroup, ip, now, imageDigests, vmmUid);
    }

    /** The recorded VMM process, or null when none was recorded. */
    public VmmProcess process() {
        return pid <= 0 ? null : new VmmProcess(pid, pidStartTicks);
    }
}
