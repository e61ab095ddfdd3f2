package io.mvm.core.scale;

import io.mvm.model.MvmException;
import java.time.Duration;
import java.util.Objects;

/**
 * When an instance that nobody uses is idled: paused ({@code warm}) after {@code warmAfter} without
 * a connection, a byte through its routes, background work in the guest, or guest CPU at or above
 * {@code cpuThreshold} (a share of one vCPU's time, 0-1); snapshotted and stopped
 * ({@code sleeping}) after {@code sleepAfter} of the same. {@code minRuntime} keeps an instance that
 * was just started or woken up regardless.
 */
public record IdlePolicy(Duration warmAfter, Duration sleepAfter, Duration minRuntime, double cpuThreshold) {
    public static final IdlePolicy DEFAULTS = new IdlePolicy(Duration.ofSeconds(60), Duration.ofMinutes(15),
            Duration.ofSeconds(30), 0.05);

    public IdlePolicy {
        Objects.requireNonNull(warmAfter, "warmAfter");
        Objects.requireNonNull(sleepAfter, "sleepAfter");
        Objects.requireNonNull(minRuntime, "minRuntime");
        if (warmAfter.isNegative() || warmAfter.isZero()) {
            throw MvmException.invalid("idle warm_after must be positive, got " + warmAfter.toMillis() + " ms");
        }
        if (sleepAfter.compareTo(warmAfter) < 0) {
            throw MvmException.invalid("idle sleep_after (" + sleepAfter.toMillis() + " ms) must not be shorter than"
                    + " warm_after (" + warmAfter.toMillis() + " ms)");
        }
        if (minRuntime.isNegative()) {
            throw MvmException.invalid("idle min_runtime must not be negative");
        }
        if (!(cpuThreshold >= 0 && cpuThreshold <= 1)) {
            throw MvmException.invalid("idle cpu_threshold must be between 0 and 1, got " + cpuThreshold);
        }
    }

    /**
     * Parses {@code "90s"}, {@code "15m"}, {@code "1h"}, {@code "500ms"} or a bare number of
     * seconds; what pool specs and the CLI accept.
     */
    public static Duration parseDuration(String field, String text) {
        if (text == null || text.isBlank()) {
            throw MvmException.invalid("idle " + field + " is empty");
        }
        var t = text.strip();
        try {
            if (t.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2).strip()));
            }
            char unit = t.charAt(t.length() - 1);
            if (Character.isDigit(unit)) {
                return Duration.ofSeconds(Long.parseLong(t));
            }
            long n = Long.parseLong(t.substring(0, t.length() - 1).strip());
            return switch (unit) {
                case 's' -> Duration.ofSeconds(n);
                case 'm' -> Duration.ofMinutes(n);
                case 'h' -> Duration.ofHours(n);
                default -> throw MvmException.invalid("idle " + field + " '" + text
                        + "' must end in ms, s, m or h");
            };
        } catch (NumberFormatException e) {
            throw MvmException.invalid("idle " + field + " '" + text + "' is not a duration such as 60s or 15m");
        }
    }

    /** {@code 90s}, {@code 1500ms}: the shortest exact form, so a policy survives a round trip. */
    public static String formatDuration(Duration d) {
        long ms = d.toMillis();
        if (ms % 1000 != 0) {
            return ms + "ms";
        }
        long s = ms / 1000;
        if (s != 0 && s % 3600 == 0) {
            return s / 3600 + "h";
        }
        if (s != 0 && s % 60 == 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }
}
