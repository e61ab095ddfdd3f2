package io.mvm.core.vms;

import java.util.List;
import java.util.Map;

/**
 * A {@code /vms} spec as it arrived (JSON body or desired-VMs file): every field may be missing.
 * {@link VmSpecs#validate} turns it into a {@link VmSpec} or lists every problem at once.
 */
public record VmSpecDraft(String template, String rootfs, String kernel, List<String> cmd, Map<String, String> env,
                          Map<String, String> secrets, Resources resources, String lifecycle, WarmPool warmPool,
                          List<Port> ports, Idle idle) {

    public record Resources(Integer vcpu, Long memMb) {}

    public record WarmPool(Integer min, Integer max) {}

    public record Port(Integer guest, Integer host, String protocol) {}

    /** An idle policy as pools take it: durations as {@code "60s"}, {@code "15m"}, {@code "500ms"}. */
    public record Idle(String warmAfter, String sleepAfter, String minRuntime, Double cpuThreshold) {}

    @Override
    public String toString() {
        return "VmSpecDraft[...]"; // secrets stay out of logs
    }
}
