package io.mvm.store.vm;

import java.util.List;
import java.util.Map;

/**
 * A job's spec as stored and shown: everything but secret values (their names are kept). Kept
 * as a JSON text column; {@code env} is sorted, so equal specs store alike.
 */
public record StoredVmSpec(String template, String rootfs, String kernel, List<String> cmd, Map<String, String> env,
                           List<String> secretNames, Resources resources, String lifecycle, WarmPool warmPool,
                           List<Port> ports, Idle idle) {
    public StoredVmSpec {
        cmd = List.copyOf(cmd);
        env = new java.util.TreeMap<>(env);
        secretNames = List.copyOf(secretNames);
        ports = List.copyOf(ports);
    }

    public record Resources(int vcpu, long memMb) {}

    public record WarmPool(int min, int max) {}

    public record Port(int guest, int host, String protocol) {}

    /** The idle policy, durations in milliseconds; null without one (and in specs stored before it). */
    public record Idle(long warmAfterMs, long sleepAfterMs, long minRuntimeMs, double cpuThreshold) {}
}
