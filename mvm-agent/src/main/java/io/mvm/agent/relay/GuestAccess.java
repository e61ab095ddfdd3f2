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

    /**
     * Runs a command in the guest; its output reaches {@code output} while it runs (see
     * {@link GuestChannel#exec(GuestChannel.ExecRequest, GuestChannel.ExecOutput)}).
     */
    GuestChannel.ExecResult exec(InstanceId id, GuestChannel.ExecRequest request, GuestChannel.ExecOutput output);

    /** Runs a command in the guest and returns its output whole. */
    default GuestChannel.ExecResult exec(InstanceId id, GuestChannel.ExecRequest request) {
        var stdout = new java.io.ByteArrayOutputStream();
        var stderr = new java.io.ByteArrayOutputStream();
        var result = exec(id, request, (stream, bytes) ->
                (stream == GuestChannel.ExecStream.STDOUT ? stdout : stderr).writeBytes(bytes));
        return new GuestChannel.ExecResult(result.exitCode(), stdout.toByteArray(), stderr.toByteArray(),
                result.timedOut(), result.truncated());
    }

    /** The last {@code lines} lines of the instance's serial console. */
    String consoleTail(InstanceId id, int lines);

    /** The instance's supervised workload: running, exited (with its code) or none. */
    GuestChannel.WorkloadStatus workload(InstanceId id);

    /** Hands a warm VM standing by to {@code spec}'s tenant (see {@code InstanceRuntime#claim}). */
    io.mvm.agent.runtime.ClaimReport claim(io.mvm.core.reconcile.InstanceSpec spec);
}
