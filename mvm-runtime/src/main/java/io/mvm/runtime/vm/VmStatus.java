package io.mvm.runtime.vm;

import io.mvm.model.Accelerator;
import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.VmHandle;
import java.time.Instant;

/** One line of {@code mvm vm list}: what a VM is doing now, as observed. */
public record VmStatus(String name, InstanceState state, Accelerator accelerator, long pid, String ip,
                       int vcpus, long memoryMib, String backend, String reason, Instant updatedAt) {

    static VmStatus of(VmHandle handle, VmDefinition definition) {
        return new VmStatus(handle.name(), handle.state(), handle.accelerator(), handle.pid(), handle.ip(),
                definition == null ? 0 : definition.vcpus(), definition == null ? 0 : definition.memoryMib(),
                handle.backend(), handle.stateReason(), handle.updatedAt());
    }
}
