package io.mvm.runtime.backend;

/** Backends that can freeze vCPUs while keeping memory resident (a warm VM). */
public interface Pausable {
    VmHandle pause(VmHandle handle, HandleJournal journal);

    VmHandle resume(VmHandle handle, HandleJournal journal);
}
