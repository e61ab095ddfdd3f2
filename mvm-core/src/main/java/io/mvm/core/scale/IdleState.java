package io.mvm.core.scale;

/** Where an instance wanted running stands as far as the idle policy is concerned. */
public enum IdleState {
    /** Running and not idled. */
    RUNNING,
    /** Idled by the policy to warm (paused). */
    WARM,
    /** Idled by the policy to sleeping (snapshotted, VMM gone). */
    SLEEPING
}
