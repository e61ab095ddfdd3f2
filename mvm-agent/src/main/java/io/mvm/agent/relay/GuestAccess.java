package io.mvm.agent.relay;

import io.mvm.model.InstanceId;
import io.mvm.runtime.guest.GuestChannel;

/**
 * What the relay server may do with this node's instances: run a command through the guest agent
 * and read the serial console. Failures are {@link io.mvm.model.MvmException}s: NOT_FOUND when the
 * instance has no VM here, FAILED_PRECONDITION when it is not running, UNAVAILABLE when the guest
 * agent does not answer.
 */
public interface GuestAccess {

    GuestChannel.ExecResult exec(InstanceId id, GuestChannel.ExecRequest request);

    /** The last {@code lines} lines of the instance's serial console. */
    String consoleTail(InstanceId id, int lines);

    /** The instance's supervised workload: running, exited (with its code) or none. */
    GuestChannel.WorkloadStatus workload(InstanceId id);

    /** Hands a warm VM standing by to {@code spec}'s tenant (see {@code InstanceRuntime#claim}). */
    io.mvm.agent.runtime.ClaimReport claim(io.mvm.core.reconcile.InstanceSpec spec);
}
