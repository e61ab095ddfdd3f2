package io.mvm.runtime.backend;

/**
 * Where a backend records a VM's handle. Implementations write durably and atomically; a backend
 * calls {@link #record} before it reports an operation as done.
 */
@FunctionalInterface
public interface HandleJournal {
    void record(VmHandle handle);

    HandleJournal NONE = handle -> {};
}
