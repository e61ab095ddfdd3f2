package io.mvm.agent.local;

import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;

/**
 * What the agent remembers about an instance beyond the runtime's own VM directory: who it belongs
 * to (so it can be torn down in role order when the coordinator no longer names it) and its place
 * on the tenant network (so the host network can be rebuilt after a restart). Written atomically
 * before the VM is created, removed after it is destroyed.
 *
 * @param ip null when the instance has no network
 */
public record InstanceRecord(int version, String id, String tenant, String pool, String role, String ip, int prefix,
                             String gateway, int netId) {
    public static final int VERSION = 1;

    public InstanceRecord {
        if (version != VERSION) {
            throw MvmException.invalid("unsupported instance record version " + version + " for " + id);
        }
        InstanceId.of(id);
        TenantId.of(tenant);
        Role.parse(role);
    }

    public static InstanceRecord of(InstanceSpec spec) {
        var n = spec.network();
        boolean networked = n.netId() > 0 && !n.ip().isBlank();
        return new InstanceRecord(VERSION, spec.id().value(), spec.tenant().value(), spec.pool().value(),
                spec.role().wireName(), networked ? n.ip() : null, n.prefix(), networked ? n.gateway() : null,
                networked ? n.netId() : 0);
    }

    public InstanceId instanceId() {
        return InstanceId.of(id);
    }

    public TenantId tenantId() {
        return TenantId.of(tenant);
    }

    public PoolName poolName() {
        return PoolName.of(pool);
    }

    public Role roleValue() {
        return Role.parse(role);
    }

    public boolean networked() {
        return ip != null && netId > 0;
    }

    /** A warm VM booted for no tenant: a tap on no bridge, no address, until a claim. */
    public boolean standby() {
        return tenantId().standby();
    }
}
