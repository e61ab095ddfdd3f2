package io.mvm.agent.proxy;

import io.mvm.model.InstanceId;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Per-instance traffic through its routes: what the idle policy reads. Lock-free: every splice
 * thread updates it after each chunk.
 */
public final class TrafficMeter {
    private final InstantSource clock;
    private final Map<InstanceId, Counters> byInstance = new ConcurrentHashMap<>();

    public TrafficMeter(InstantSource clock) {
        this.clock = clock;
    }

    /** What one instance's routes carried. {@code lastActivity} is epoch millis (0: never). */
    public record Snapshot(int open, long connections, long bytes, long lastActivityMillis) {
        public static final Snapshot NONE = new Snapshot(0, 0, 0, 0);

        public Instant lastActivity() {
            return Instant.ofEpochMilli(lastActivityMillis);
        }
    }

    private static final class Counters {
        final AtomicInteger open = new AtomicInteger();
        final AtomicLong connections = new AtomicLong();
        final AtomicLong bytes = new AtomicLong();
        final AtomicLong lastActivity = new AtomicLong();
    }

    private Counters of(InstanceId id) {
        return byInstance.computeIfAbsent(id, k -> new Counters());
    }

    void opened(InstanceId id) {
        var c = of(id);
        c.open.incrementAndGet();
        c.connections.incrementAndGet();
        c.lastActivity.set(clock.millis());
    }

    void closed(InstanceId id) {
        var c = of(id);
        c.open.decrementAndGet();
        c.lastActivity.set(clock.millis());
    }

    void carried(InstanceId id, long n) {
        var c = of(id);
        c.bytes.addAndGet(n);
        c.lastActivity.set(clock.millis());
    }

    public Snapshot snapshot(InstanceId id) {
        var c = byInstance.get(id);
        return c == null ? Snapshot.NONE
                : new Snapshot(c.open.get(), c.connections.get(), c.bytes.get(), c.lastActivity.get());
    }

    public void forget(InstanceId id) {
        byInstance.remove(id);
    }

    void retainOnly(java.util.Set<InstanceId> ids) {
        byInstance.keySet().retainAll(ids);
    }
}
