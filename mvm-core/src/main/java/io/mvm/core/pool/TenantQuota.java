package io.mvm.core.pool;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A tenant's limits. vCPUs and memory count instances that hold them (wanted running or warm);
 * the instance limit counts every live instance record, since each one holds an address and a
 * data drive.
 */
public record TenantQuota(int maxVcpus, long maxMemoryMib, int maxInstances) {
    public static final TenantQuota DEFAULT = new TenantQuota(16, 16384, 20);

    public TenantQuota {
        if (maxVcpus < 0 || maxMemoryMib < 0 || maxInstances < 0) {
            throw MvmException.invalid("quotas must not be negative, got max_vcpus=" + maxVcpus
                    + " max_memory_mib=" + maxMemoryMib + " max_instances=" + maxInstances);
        }
    }

    /** What a tenant uses, in the units its quota speaks of. */
    public record Usage(long vcpus, long memoryMib, long instances) {
        public static final Usage NONE = new Usage(0, 0, 0);

        public Usage plus(Usage o) {
            return new Usage(vcpus + o.vcpus, memoryMib + o.memoryMib, instances + o.instances);
        }
    }

    /**
     * Refuses a change that moves any usage above its limit and upwards; shrinking while already
     * over a (lowered) limit stays allowed so a tenant can always get back under it.
     */
    public void check(Usage before, Usage after) {
        checkOne("max_vcpus", maxVcpus, before.vcpus(), after.vcpus());
        checkOne("max_memory_mib", maxMemoryMib, before.memoryMib(), after.memoryMib());
        checkOne("max_instances", maxInstances, before.instances(), after.instances());
    }

    private static void checkOne(String name, long limit, long inUse, long requested) {
        if (requested > limit && requested > inUse) {
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("quota", name);
            details.put("limit", limit);
            details.put("requested", requested);
            details.put("in_use", inUse);
            throw new MvmException(ErrorCategory.QUOTA_EXCEEDED, "quota " + name + " exceeded: limit " + limit
                    + ", requested " + requested + ", in use " + inUse, details, null);
        }
    }
}
