package io.mvm.coordinator.http;

import io.mvm.model.InstanceId;
import java.util.HashMap;
import java.util.Map;

/**
 * Caps exec calls running at once, per instance and in all, so one tenant cannot tie up the
 * relay (each exec holds a connection to a node's agent for up to its timeout).
 */
final class ExecLimiter {
    private final int perInstance;
    private final int total;
    private final Map<InstanceId, Integer> running = new HashMap<>();
    private int all;

    ExecLimiter(int perInstance, int total) {
        this.perInstance = perInstance;
        this.total = total;
    }

    /** Takes a slot; false when the instance or the coordinator is at its cap. */
    synchronized boolean tryEnter(InstanceId id) {
        int mine = running.getOrDefault(id, 0);
        if (mine >= perInstance || all >= total) {
            return false;
        }
        running.put(id, mine + 1);
        all++;
        return true;
    }

    synchronized void exit(InstanceId id) {
        running.computeIfPresent(id, (k, n) -> n > 1 ? n - 1 : null);
        all--;
    }
}
