package io.mvm.agent.runtime;

import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The port through which the agent acts on VMs: exactly the operations reconcile steps need, plus
 * {@link #observe()}. {@link io.mvm.agent.local.LocalInstanceRuntime} adapts it to mvm-runtime's VMs (QEMU).
 *
 * <p>Contract for implementations:
 * <ul>
 *   <li>Every operation is idempotent: asking for the state a VM is already in succeeds and does
 *       nothing (create of an existing VM, destroy of a missing one, pause of a paused one...).</li>
 *   <li>State lives on disk (handles written atomically before an operation is acknowledged) and
 *       VMMs run in their own process group, so an agent killed with -9 and started again sees
 *       the same VMs through {@link #observe()}; an operation cut short must leave the VM in a
 *       state {@code observe()} reports truthfully (for a half-created VM: CRASHED or absent).</li>
 *   <li>Failures are {@link io.mvm.model.MvmException}s (or subclasses) with a category;
 *       {@link InterruptedException} is not swallowed (the thread's interrupt flag is kept).</li>
 *   <li>Calls for different instances may run concurrently; calls for one instance never do
 *       (the agent's work queue guarantees it).</li>
 * </ul>
 */
public interface InstanceRuntime {

    /**
     * Every VM this node has, in any state, each checked live (for QEMU: one QMP status query per
     * live VM). For reports and start-up; a reconcile pass uses {@link #observe(InstanceId)}.
     */
    List<LocalVm> observe();

    /**
     * Every VM this node has, with {@code focus} checked live and the others as last recorded: what
     * one instance's reconcile pass needs (its own state, and its tenant peers for the role order)
     * at the cost of one check, so that a pass over every instance is not N² checks. A VM whose
     * state cannot be read this time is {@link io.mvm.core.reconcile.VmState#UNKNOWN}.
     */
    default List<LocalVm> observe(InstanceId focus) {
        return observe();
    }

    /** Create drives (data, secrets, config as the role needs) and boot. */
    void create(InstanceSpec spec);

    /** Boot a stopped VM from its kept drives, secrets drive rewritten from {@code spec}. */
    void start(InstanceSpec spec);

    /** Pause the vCPUs (QMP stop); memory stays resident. */
    void pause(InstanceId id);

    /** Continue paused vCPUs (QMP cont). */
    void resume(InstanceId id);

    /**
     * Drain the guest cooperatively (up to {@code drainDeadline}, then proceed anyway), write a
     * snapshot and end the VMM. Works from running and from warm.
     */
    void sleep(InstanceId id, Duration drainDeadline);

    /** Restore the snapshot and continue; secrets drive rewritten from {@code spec} first. */
    void wake(InstanceSpec spec);

    /** End the VMM and drop any snapshot; drives kept. */
    void stop(InstanceId id);

    /** Remove the VM, its drives, snapshot and handle: the instance is desired destroyed. */
    void destroy(InstanceId id);

    /**
     * Remove a VM the desired state no longer names without losing its data: end the VMM, keep
     * the data disk and any snapshot aside (see {@link #orphans()}), remove the rest. The instance
     * may have moved to another node while this one was away, with this disk its only copy.
     *
     * @return where the data was kept, empty when there was no VM
     */
    Optional<Path> evict(InstanceId id, String reason);

    /** The data {@link #evict} set aside that is still there (an operator removes it). */
    default List<Orphan> orphans() {
        return List.of();
    }

    /**
     * A warm VM standing by (booted for no tenant, paused) becomes {@code spec}'s instance: its tap
     * joins the tenant's network, the guest gets its identity, secrets and workload, and runs. On
     * failure the VM is destroyed (a half-claimed VM is never kept: the next pass boots the
     * instance afresh) and the error is thrown.
     */
    default ClaimReport claim(InstanceSpec spec) {
        throw io.mvm.model.MvmException.precondition("this node's runtime cannot claim warm VMs");
    }

    /** Tear down a dead or hung VMM and boot again from the kept drives. */
    void restart(InstanceSpec spec);

    /** Ask the guest agent whether it is alive; false when it does not answer within {@code timeout}. */
    boolean probeGuest(InstanceId id, Duration timeout);

    /** What a health probe learned about a guest. */
    enum GuestProbe {
        /** No answer within the timeout. */
        SILENT,
        /** The guest agent answered. */
        ANSWERED,
        /** The guest agent answered, and the workload it supervises has exited (not drained). */
        WORKLOAD_EXITED
    }

    /** As {@link #probeGuest}, also telling whether the guest's workload has exited. */
    default GuestProbe probe(InstanceId id, Duration timeout) {
        return probeGuest(id, timeout) ? GuestProbe.ANSWERED : GuestProbe.SILENT;
    }

    /** The accelerator this node's VMs use (reported to the coordinator). */
    Accelerator accelerator();

    /** The address this node's VXLAN tunnels start and end at, registered with the node; empty without one. */
    default java.util.Optional<String> underlayAddress() {
        return java.util.Optional.empty();
    }

    /**
     * The instances of this node's tenants that run on other nodes (from the coordinator's desired
     * state). A runtime with a host network programs its VXLAN forwarding from them.
     */
    default void peers(List<io.mvm.core.netpolicy.OverlayPeers.Peer> peers) {
    }
}
