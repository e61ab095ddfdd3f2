package io.mvm.core.reconcile;

import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.Objects;

/**
 * One VM as this node sees it. Tenant and role come from the VM's own on-disk handle, so a VM
 * that the desired state no longer names can still be torn down in the right order.
 */
public record ObservedInstance(InstanceId id, TenantId tenant, Role role, VmState state, GuestHealth health) {
    public ObservedInstance {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(health, "health");
    }

    public ObservedInstance withState(VmState newState) {
        return new ObservedInstance(id, tenant, role, newState, GuestHealth.UNCHECKED);
    }

    public ObservedInstance withHealth(GuestHealth newHealth) {
        return new ObservedInstance(id, tenant, role, state, newHealth);
    }

    boolean runningAndHealthy() {
        return state == VmState.RUNNING && health != GuestHealth.UNRESPONSIVE;
    }
}
