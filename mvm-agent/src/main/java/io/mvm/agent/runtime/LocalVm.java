package io.mvm.agent.runtime;

import io.mvm.core.reconcile.VmState;
import io.mvm.model.BoundedText;
import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * One VM the runtime knows on this node, read from its on-disk handle and its VMM process. Tenant
 * and role are recorded in the handle at create time, so a VM can be torn down in role order even
 * when the coordinator no longer names it.
 */
public record LocalVm(InstanceId id, TenantId tenant, Role role, VmState state, OptionalLong pid,
                      Optional<String> lastError) {
    public LocalVm {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(pid, "pid");
        Objects.requireNonNull(lastError, "lastError");
        lastError = lastError.map(BoundedText::message);
    }
}
