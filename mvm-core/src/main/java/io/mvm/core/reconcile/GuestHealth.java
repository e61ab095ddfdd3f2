package io.mvm.core.reconcile;

/** The latest verdict of the guest-agent health check; only meaningful for a running VM. */
public enum GuestHealth {
    UNCHECKED,
    RESPONSIVE,
    UNRESPONSIVE
}
