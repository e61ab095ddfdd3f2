package io.mvm.store.vm;

import io.mvm.model.PoolName;
import io.mvm.model.TenantId;
import java.time.Instant;

/**
 * A {@code /vms} job as stored. {@code spec} never holds secrets. {@code source} is {@link #API}
 * or {@link #FILE}.
 */
public record VmJob(String jobId, TenantId tenant, PoolName pool, StoredVmSpec spec, String specHash, String source,
                    long version, Instant createdAt, Instant updatedAt, java.util.Optional<Finished> finished) {
    public static final String API = "api";
    public static final String FILE = "file";

    /** How a run-once job ended: its workload's exit code and the tail of its console output. */
    public record Finished(Instant at, int exitCode, String outputTail) {}

    /** A job that has not finished (every job of another lifecycle, and a running one-shot job). */
    public VmJob(String jobId, TenantId tenant, PoolName pool, StoredVmSpec spec, String specHash, String source,
                 long version, Instant createdAt, Instant updatedAt) {
        this(jobId, tenant, pool, spec, specHash, source, version, createdAt, updatedAt, java.util.Optional.empty());
    }
}
