package io.mvm.store.vm;

import io.mvm.model.PoolName;
import io.mvm.model.TenantId;
import java.time.Instant;

/**
 * A {@code /vms} job as stored. {@code spec} never holds secrets. {@code source} is {@link #API}
 * or {@link #FILE}.
 */
public record VmJob(String jobId, TenantId tenant, PoolName pool, StoredVmSpec spec, String specHash, String source,
                    long version, Instant createdAt, Instant updatedAt) {
    public static final String API = "api";
    public static final String FILE = "file";
}
