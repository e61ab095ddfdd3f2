package io.mvm.agent.reconcile;

import io.mvm.agent.queue.ExponentialBackoff;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.RestartHistory;
import io.mvm.model.BoundedText;
import io.mvm.model.InstanceId;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Restart bookkeeping the planner reads as input. After the n-th restart the next one is allowed
 * only after {@code backoff.delay(n)}; an instance that stays healthy for {@code stablePeriod}
 * past that point starts over with a clean record. A gave-up instance stays given up until the
 * coordinator changes what it wants for it (target or revision).
 *
 * <p>With a file, every change is written to it atomically and it is read back at construction,
 * so an agent killed with -9 does not hand a crash-looping instance a fresh restart budget, nor
 * revive one it had given up on.
 */
public final class RestartBook {
    private final ExponentialBackoff backoff;
    private final Duration stablePeriod;
    private final Optional<Path> file;
    private final ConcurrentHashMap<InstanceId, RestartHistory> histories = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<InstanceId, String> gaveUpFor = new ConcurrentHashMap<>();

    /** Kept in memory only. */
    public RestartBook(ExponentialBackoff backoff, Duration stablePeriod) {
        this(backoff, stablePeriod, Optional.empty());
    }

    /** @param file where the book is kept across agent restarts (loaded now when it exists) */
    public RestartBook(ExponentialBackoff backoff, Duration stablePeriod, Optional<Path> file) {
        this.backoff = backoff;
        this.stablePeriod = stablePeriod;
        this.file = file;
        file.ifPresent(f -> RestartBookFile.read(f).forEach(e -> {
            histories.put(e.id(), e.history());
            e.gaveUpFor().ifPresent(g -> gaveUpFor.put(e.id(), g));
        }));
    }

    public Map<InstanceId, RestartHistory> snapshot() {
        return Map.copyOf(histories);
    }

    public RestartHistory get(InstanceId id) {
        return histories.getOrDefault(id, RestartHistory.NONE);
    }

    public void recordRestart(InstanceId id, int attempt, String reason, Instant now) {
        histories.put(id, new RestartHistory(attempt, now.plus(backoff.delay(attempt)), false,
                BoundedText.message(reason)));
        save();
    }

    public void recordGaveUp(InstanceId id, String reason, DesiredInstance desired) {
        histories.compute(id, (k, h) -> new RestartHistory(h == null ? 0 : h.restarts(),
                h == null ? Instant.EPOCH : h.notBefore(), true, BoundedText.message(reason)));
        gaveUpFor.put(id, fingerprint(desired));
        save();
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
        boolean had = histories.remove(id) != null;
        gaveUpFor.remove(id);
        if (had) {
            save();
        }
    }

    /** Serialized so two workers' writes cannot reorder and leave an older book on disk. */
    private synchronized void save() {
        file.ifPresent(f -> {
            var entries = new ArrayList<RestartBookFile.Entry>();
            histories.forEach((id, h) -> entries.add(new RestartBookFile.Entry(id, h, Optional.ofNullable(gaveUpFor.get(id)))));
            RestartBookFile.write(f, entries);
        });
    }

    private static String fingerprint(DesiredInstance d) {
        return d == null ? "" : d.target() + "@" + d.spec().revision();
    }
}
