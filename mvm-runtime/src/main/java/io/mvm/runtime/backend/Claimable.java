package io.mvm.runtime.backend;

import io.mvm.runtime.guest.GuestIdentity;
import java.util.Map;

/**
 * Backends that can hand a paused VM, booted with no owner, to its first tenant without a restart:
 * the read-only secrets and config drives are rewritten in place (the guest remounts them), the
 * vCPUs continue, and the guest takes on {@code identity} (address, hostname, machine-id, fresh
 * entropy, clock) and starts its workload — what a warm-pool claim needs. The VM keeps its VMM,
 * memory, NIC and MAC.
 */
public interface Claimable {
    /** How a claim went: the handle afterwards and where the time went (phase → milliseconds). */
    record Claimed(VmHandle handle, Map<String, Long> phaseMillis, long generation) {
        public Claimed {
            phaseMillis = Map.copyOf(phaseMillis);
        }
    }

    /**
     * @param standing the spec the VM was booted with (from its directory)
     * @param claimed  what it becomes: same image, resources, NIC and drive layout; its own
     *                 secrets, config, address and workload
     */
    Claimed claim(VmSpec standing, VmSpec claimed, VmHandle handle, GuestIdentity identity, HandleJournal journal);
}
