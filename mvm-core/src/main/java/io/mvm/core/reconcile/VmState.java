package io.mvm.core.reconcile;

/**
 * What a node's runtime sees of one VM, read from its on-disk handle and the VMM process.
 * Absence (no handle at all) is not a state: the VM is simply not in the observed list.
 */
public enum VmState {
    /** An operation on it is under way (booting, pausing, snapshotting...). */
    BUSY,
    /** VMM alive, vCPUs executing. */
    RUNNING,
    /** VMM alive, vCPUs paused, memory resident. */
    WARM,
    /** Snapshot on disk, no VMM process. */
    SLEEPING,
    /** No VMM process and no snapshot; drives kept. */
    STOPPED,
    /** The VMM process died although nobody asked it to stop. */
    CRASHED,
    /**
     * The VMM process lives but the runtime could not read its state this time (its monitor did
     * not answer). Never acted on: look again. A monitor silent past the runtime's deadline is
     * reported CRASHED instead.
     */
    UNKNOWN
}
