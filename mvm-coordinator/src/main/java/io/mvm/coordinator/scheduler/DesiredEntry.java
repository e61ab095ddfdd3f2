package io.mvm.coordinator.scheduler;

import io.mvm.core.scale.Exposure;
import java.util.List;
import java.util.Map;

/**
 * One instance as its node must run it: everything the agent needs, nothing it does not.
 * {@link #toString()} hides secret values. {@code templateRevision} and {@code artifacts} pin a
 * template's revision (null and empty without one); {@code exposure} carries routes and the idle
 * policy ({@link Exposure#NONE} without).
 */
public record DesiredEntry(String id, String tenant, String pool, String role, String desiredState, int vcpus,
                           long memoryMib, long dataDiskMib, String ip, int prefix, String gateway, String mac,
                           int netId, List<String> cmd, Map<String, String> env, Map<String, String> secrets,
                           Map<String, String> configFiles, String revision, String template,
                           String templateRevision, List<Artifact> artifacts, Exposure exposure,
                           boolean restartWorkload) {

    /** An entry whose workload is left alone when it exits. */
    public DesiredEntry(String id, String tenant, String pool, String role, String desiredState, int vcpus,
                        long memoryMib, long dataDiskMib, String ip, int prefix, String gateway, String mac, int netId,
                        List<String> cmd, Map<String, String> env, Map<String, String> secrets,
                        Map<String, String> configFiles, String revision, String template, String templateRevision,
                        List<Artifact> artifacts, Exposure exposure) {
        this(id, tenant, pool, role, desiredState, vcpus, memoryMib, dataDiskMib, ip, prefix, gateway, mac, netId, cmd,
                env, secrets, configFiles, revision, template, templateRevision, artifacts, exposure, false);
    }

    /** One file the template revision needs, fetched by digest when the node lacks it. */
    public record Artifact(String role, String path, long size, String sha256) {}

    /** An entry without a pinned template revision, routes or idle policy. */
    public DesiredEntry(String id, String tenant, String pool, String role, String desiredState, int vcpus,
                        long memoryMib, long dataDiskMib, String ip, int prefix, String gateway, String mac, int netId,
                        List<String> cmd, Map<String, String> env, Map<String, String> secrets,
                        Map<String, String> configFiles, String revision, String template) {
        this(id, tenant, pool, role, desiredState, vcpus, memoryMib, dataDiskMib, ip, prefix, gateway, mac, netId, cmd,
                env, secrets, configFiles, revision, template, null, List.of(), Exposure.NONE);
    }

    /** An entry without routes or idle policy. */
    public DesiredEntry(String id, String tenant, String pool, String role, String desiredState, int vcpus,
                        long memoryMib, long dataDiskMib, String ip, int prefix, String gateway, String mac, int netId,
                        List<String> cmd, Map<String, String> env, Map<String, String> secrets,
                        Map<String, String> configFiles, String revision, String template, String templateRevision,
                        List<Artifact> artifacts) {
        this(id, tenant, pool, role, desiredState, vcpus, memoryMib, dataDiskMib, ip, prefix, gateway, mac, netId, cmd,
                env, secrets, configFiles, revision, template, templateRevision, artifacts, Exposure.NONE);
    }

    public DesiredEntry {
        java.util.Objects.requireNonNull(exposure, "exposure");
        artifacts = artifacts == null ? List.of() : List.copyOf(artifacts);
        cmd = List.copyOf(cmd);
        env = Map.copyOf(env);
        secrets = Map.copyOf(secrets);
        configFiles = Map.copyOf(configFiles);
    }

    /** Feeds every field, in a fixed order, to {@code sink} (maps sorted by key). */
    void fingerprint(java.util.function.Consumer<String> sink) {
        for (String s : List.of(id, tenant, pool, role, desiredState, Integer.toString(vcpus), Long.toString(memoryMib),
                Long.toString(dataDiskMib), ip, Integer.toString(prefix), gateway, String.valueOf(mac),
                Integer.toString(netId), revision, String.valueOf(templateRevision))) {
            sink.accept(s);
        }
        sink.accept("cmd:" + cmd.size());
        cmd.forEach(sink);
        for (Map<String, String> m : List.of(env, secrets, configFiles)) {
            sink.accept("map:" + m.size());
            new java.util.TreeMap<>(m).forEach((k, v) -> {
                sink.accept(k);
                sink.accept(v);
            });
        }
        // Left out entirely when there is none, so lists without routes keep their old fingerprint.
        if (!exposure.equals(Exposure.NONE)) {
            sink.accept("ports:" + exposure.ports().size());
            exposure.ports().forEach(p -> sink.accept(p.wire()));
            sink.accept("idle:" + exposure.idle().map(i -> i.warmAfter().toMillis() + "/" + i.sleepAfter().toMillis()
                    + "/" + i.minRuntime().toMillis() + "/" + i.cpuThreshold()).orElse("none"));
        }
        // Likewise only when set.
        if (restartWorkload) {
            sink.accept("restart-workload");
        }
    }

    @Override
    public String toString() {
        return "DesiredEntry[id=" + id + ", desiredState=" + desiredState + ", secrets=" + secrets.keySet() + "]";
    }
}
