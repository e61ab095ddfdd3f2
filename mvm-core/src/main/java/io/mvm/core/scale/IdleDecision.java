package io.mvm.core.scale;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;

/**
 * The idle policy as a pure function: given what an instance did lately, keep it as it is, pause
 * it ({@link Warm}) or put it to sleep ({@link Sleep}). Every verdict carries its reason, which the
 * agent records as an event (e.g. {@code idle 61 s, 0 bytes, cpu 0.3 % → warm}).
 */
public sealed interface IdleDecision {
    String reason();

    record Stay(String reason) implements IdleDecision {}

    record Warm(String reason) implements IdleDecision {}

    record Sleep(String reason) implements IdleDecision {}

    /**
     * Idle time counts from the later of {@code activeSince} and {@code lastActivity}; an open
     * connection, background work or CPU at or above the threshold make it zero. A sleeping
     * instance stays; a warm one only goes on to sleep (paused, its guest uses no CPU).
     */
    static IdleDecision decide(IdlePolicy policy, IdleInputs in, Instant now) {
        if (in.state() == IdleState.SLEEPING) {
            return new Stay("sleeping");
        }
        var idleSince = in.lastActivity().isAfter(in.activeSince()) ? in.lastActivity() : in.activeSince();
        var idle = Duration.between(idleSince, now);
        if (idle.isNegative()) {
            idle = Duration.ZERO;
        }
        if (in.state() == IdleState.WARM) {
            return idle.compareTo(policy.sleepAfter()) >= 0
                    ? new Sleep(describe(idle, in) + " → sleeping")
                    : new Stay("warm, idle " + secs(idle) + " of " + secs(policy.sleepAfter()));
        }
        var up = Duration.between(in.activeSince(), now);
        if (up.compareTo(policy.minRuntime()) < 0) {
            return new Stay("up " + secs(up) + ", min_runtime " + secs(policy.minRuntime()));
        }
        if (in.openConnections() > 0) {
            return new Stay(in.openConnections() + " open connections");
        }
        if (in.backgroundWork() > 0) {
            return new Stay(in.backgroundWork() + " background tasks in the guest");
        }
        if (in.cpu() >= policy.cpuThreshold()) {
            return new Stay(String.format(Locale.ROOT, "cpu %.1f %% ≥ threshold %.1f %%", in.cpu() * 100,
                    policy.cpuThreshold() * 100));
        }
        if (idle.compareTo(policy.sleepAfter()) >= 0) {
            return new Sleep(describe(idle, in) + " → sleeping");
        }
        if (idle.compareTo(policy.warmAfter()) >= 0) {
            return new Warm(describe(idle, in) + " → warm");
        }
        return new Stay("idle " + secs(idle) + " of " + secs(policy.warmAfter()));
    }

    private static String describe(Duration idle, IdleInputs in) {
        return String.format(Locale.ROOT, "idle %s, %d bytes, cpu %.1f %%", secs(idle), in.bytes(), in.cpu() * 100);
    }

    private static String secs(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 || ms >= 10_000 ? (ms / 1000) + " s" : String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
    }
}
