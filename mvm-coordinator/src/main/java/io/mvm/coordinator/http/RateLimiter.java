package io.mvm.coordinator.http;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Token buckets per key (a token's id, or a client address for requests without a valid token):
 * {@code ratePerSecond} refilled continuously up to {@code burst}. Written here because it is a
 * dozen lines over a monotonic clock, which no small library does better; keys are bounded (least
 * recently used ones are dropped, which can only hand a quiet key a full bucket again).
 */
final class RateLimiter {
    private static final int MAX_KEYS = 10_000;
    private final double ratePerSecond;
    private final double burst;
    private final LongSupplier nanos;
    private final Map<String, double[]> buckets = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, double[]> eldest) {
            return size() > MAX_KEYS;
        }
    };

    RateLimiter(double ratePerSecond, double burst, LongSupplier nanos) {
        this.ratePerSecond = ratePerSecond;
        this.burst = burst;
        this.nanos = nanos;
    }

    /** Takes one request's worth for {@code key}; 0 when allowed, else the seconds until one is. */
    synchronized long acquire(String key) {
        long now = nanos.getAsLong();
        double[] b = buckets.computeIfAbsent(key, k -> new double[] {burst, now});
        double tokens = Math.min(burst, b[0] + (now - (long) b[1]) / 1e9 * ratePerSecond);
        b[1] = now;
        if (tokens >= 1) {
            b[0] = tokens - 1;
            return 0;
        }
        b[0] = tokens;
        return Math.max(1, (long) Math.ceil((1 - tokens) / ratePerSecond));
    }
}
