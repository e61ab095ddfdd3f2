package io.mvm.agent.reconcile;

import io.mvm.agent.queue.ExponentialBackoff;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.RestartHistory;
import io.mvm.model.InstanceId;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Restart bookkeeping the planner reads as input. After the n-th restart the next one is allowed
 * only after {@code backoff.delay(n)}; an instance that stays healthy for {@code stablePeriod}
 * past that point starts over with a clean record. A gave-up instance stays given up until the
 * coordinator changes what it wants for it (target or revision).
 *
 * <p>Kept in memory: after an agent restart every instance gets its full restart budget again.
 */
public final class RestartBook {
    private final ExponentialBackoff backoff;
    private final Duration stablePeriod;
    private final ConcurrentHashMap<InstanceId, RestartHistory> histories = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<InstanceId, String> gaveUpFor = new ConcurrentHashMap<>();

    public RestartBook(ExponentialBackoff backoff, Duration stablePeriod) {
        this.backoff = backoff;
        this.stablePeriod = stablePeriod;
    }

    public Map<InstanceId, RestartHistory> snapshot() {
        return Map.copyOf(histories);
    }

    public RestartHistory get(InstanceId id) {
        return histories.getOrDefault(id, RestartHistory.NONE);
    }

    public void recordRestart(InstanceId id, int attempt, String reason, Instant now) {
        histories.put(id, new RestartHistory(attempt, now.plus(backoff.delay(attempt)), false, reason));
    }

    public void recordGaveUp(InstanceId id, String reason, DesiredInstance desired) {
        histories.compute(id, (k, h) -> new RestartHistory(h == null ? 0 : h.restarts(),
                h == null ? Instant.EPOCH : h.notBefore(), true, reason));
        gaveUpFor.put(id, fingerprint(desired));
    }

    /** Clears a record whose instance ran well long enough, or whose desired entry changed since giving up. */
    public void settle(InstanceId id, boolean runningAndHealthy, DesiredInstance desired, Instant now) {
        var h = histories.get(id);
        if (h == null) {
            return;
        }
        if (h.gaveUp()) {
            var at = gaveUpFor.get(id);
            if (desired != null && at != null && !at.equals(fingerprint(desired))) {
                forget(id);
            }
            return;
        }
        if (runningAndHealthy && !now.isBefore(h.notBefore().plus(stablePeriod))) {
            forget(id);
        }
    }

    public void forget(InstanceId id) {
        histories.remove(id);
        gaveUpFor.remove(id);
    }

    private static String fingerprint(DesiredInstance d) {
        return d == null ? "" : d.target() + "@" + d.spec().revision();
    }
}
