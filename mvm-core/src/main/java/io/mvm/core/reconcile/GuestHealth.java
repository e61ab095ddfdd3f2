package io.mvm.core.reconcile;

/** The latest verdict of the guest-agent health check; only meaningful for a running VM. */
public enum GuestHealth {
    UNCHECKED,
    RESPONSIVE,
    UNRESPONSIVE,
    /** The guest answers, but the workload it supervises exited and the instance wants it kept running. */
    WORKLOAD_EXITED
}
