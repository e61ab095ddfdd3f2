package io.mvm.coordinator.auth;

import io.mvm.model.MvmException;

/** What a tenant token may do within its tenant. */
public enum TenantRole {
    /** Read and change the tenant's pools, instances and jobs (within its quota), exec into its VMs. */
    TENANT_ADMIN("tenant-admin"),
    /** Read only: tenants, pools, instances, events, logs, jobs, audit trail. */
    TENANT_READ("tenant-read");

    private final String wireName;

    TenantRole(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    public static TenantRole parse(String text) {
        for (TenantRole r : values()) {
            if (r.wireName.equals(text)) {
                return r;
            }
        }
        throw MvmException.invalid("role must be tenant-admin or tenant-read, got '" + text + "'");
    }
}
