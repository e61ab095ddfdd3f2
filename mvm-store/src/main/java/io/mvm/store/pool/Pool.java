package io.mvm.store.pool;

import io.mvm.core.liveness.OnNodeLost;
import io.mvm.core.pool.TargetCounts;
import io.mvm.model.PoolRef;
import io.mvm.model.Role;
import java.time.Instant;
import java.util.Optional;

/**
 * A pool as stored. {@code revision} counts changes to what its instances should run (resources,
 * template); {@code version} counts every change, for optimistic concurrency. {@code onNodeLost} is
 * what its instances do on a node that stays lost (see {@link OnNodeLost}).
 */
public record Pool(PoolRef ref, Role role, String profile, String flake, Optional<String> template, int vcpus,
                   long memoryMib, long dataDiskMib, TargetCounts counts, long revision, long version,
                   Instant createdAt, Instant updatedAt, Workload workload, OnNodeLost onNodeLost) {

    public Pool withCounts(TargetCounts next, Instant now) {
        return new Pool(ref, role, profile, flake, template, vcpus, memoryMib, dataDiskMib, next, revision, version + 1,
                createdAt, now, workload, onNodeLost);
    }
}
