package io.mvm.agent.sim;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The simulation's clock: starts at a fixed instant, moves with elapsed (monotonic) time, and can
 * be jumped forward to make a node's silence long enough to be declared lost without waiting.
 */
final class SimClock implements InstantSource {
    private final Instant start = Instant.parse("2026-01-01T00:00:00Z");
    private final long startNanos = System.nanoTime();
    private final AtomicLong skippedNanos = new AtomicLong();

    @Override
    public Instant instant() {
        return start.plusNanos(System.nanoTime() - startNanos + skippedNanos.get());
    }

    void advance(Duration d) {
        skippedNanos.addAndGet(d.toNanos());
    }
}
