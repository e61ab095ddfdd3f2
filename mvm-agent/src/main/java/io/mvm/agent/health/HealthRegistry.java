package io.mvm.agent.health;

import io.mvm.core.reconcile.GuestHealth;
import io.mvm.model.InstanceId;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The latest guest-health verdict per instance. A guest counts as unresponsive after
 * {@code threshold} consecutive failed probes, so one slow answer under load does not restart it.
 */
public final class HealthRegistry {
    private final int threshold;
    private final ConcurrentHashMap<InstanceId, Integer> consecutiveFailures = new ConcurrentHashMap<>();
    private final java.util.Set<InstanceId> exitedWorkloads = ConcurrentHashMap.newKeySet();

    /** Records that the instance's workload exited (and it should be restarted); true the first time. */
    public boolean workloadExited(InstanceId id) {
        return exitedWorkloads.add(id);
    }

    public HealthRegistry(int threshold) {
        if (threshold < 1) {
            throw new IllegalArgumentException("health threshold must be at least 1");
        }
        this.threshold = threshold;
    }

    /** Records a probe; returns true when this probe made the guest unresponsive. */
    public boolean record(InstanceId id, boolean answered) {
        if (answered) {
            consecutiveFailures.remove(id);
            return false;
        }
        return consecutiveFailures.merge(id, 1, Integer::sum) == threshold;
    }

    public GuestHealth health(InstanceId id) {
        Integer n = consecutiveFailures.get(id);
        if (n != null && n >= threshold) {
            return GuestHealth.UNRESPONSIVE;
        }
        return exitedWorkloads.contains(id) ? GuestHealth.WORKLOAD_EXITED : GuestHealth.RESPONSIVE;
    }

    /** Forget an instance's record (after a restart, a sleep, a destroy). */
    public void reset(InstanceId id) {
        consecutiveFailures.remove(id);
        exitedWorkloads.remove(id);
    }
}
