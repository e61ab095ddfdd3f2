package io.mvm.agent.queue;

import io.mvm.model.MvmException;
import java.time.Duration;

/** base, 2·base, 4·base ... capped at max. Attempt numbers start at 1. */
public record ExponentialBackoff(Duration base, Duration max) {
    public ExponentialBackoff {
        if (base.isNegative() || base.isZero() || max.compareTo(base) < 0) {
            throw MvmException.invalid("backoff needs 0 < base <= max, got base " + base + " max " + max);
        }
    }

    public Duration delay(int attempt) {
        if (attempt <= 1) {
            return base;
        }
        int shift = Math.min(attempt - 1, 30);
        long nanos = base.toNanos();
        if (nanos > (max.toNanos() >> shift)) {
            return max;
        }
        return Duration.ofNanos(Math.min(max.toNanos(), nanos << shift));
    }
}
