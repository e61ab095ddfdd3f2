package io.mvm.runtime.qemu;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Where the time of one start or wake went, phase by phase, for the log line that reports the VM
 * running. It is what tells mvm's own overhead (checks, drives, cgroup, journal) apart from the
 * guest's boot when a start is slower than expected. Confined to the thread doing the launch.
 */
final class LaunchPhases {
    private record Phase(String name, long nanos) {}

    private final List<Phase> phases = new ArrayList<>();
    private final long started = System.nanoTime();
    private long lapStart = started;

    /** Ends the phase running since the previous call (or since construction). */
    void lap(String name) {
        long now = System.nanoTime();
        phases.add(new Phase(name, now - lapStart));
        lapStart = now;
    }

    long totalMillis() {
        return (System.nanoTime() - started) / 1_000_000;
    }

    /** Each phase's duration in milliseconds, in the order they ran. */
    java.util.Map<String, Long> millis() {
        java.util.Map<String, Long> out = new java.util.LinkedHashMap<>();
        phases.forEach(p -> out.merge(p.name(), p.nanos() / 1_000_000, Long::sum));
        return java.util.Collections.unmodifiableMap(out);
    }

    /** e.g. {@code "checks 3 ms, drives 0 ms, launch 41 ms, boot 4870 ms, agent 35 ms"}. */
    String summary() {
        return phases.stream().map(p -> p.name() + " " + p.nanos() / 1_000_000 + " ms").collect(Collectors.joining(", "));
    }
}
