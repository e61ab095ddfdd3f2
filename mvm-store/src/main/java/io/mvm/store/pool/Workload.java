package io.mvm.store.pool;

import java.util.List;
import java.util.Map;

/**
 * What a pool's instances run: the guest command and environment, secrets for the secrets drive
 * and files for the config drive. {@link #toString()} never shows secret values.
 */
public record Workload(List<String> cmd, Map<String, String> env, Map<String, String> secrets,
                       Map<String, String> configFiles) {
    public static final Workload NONE = new Workload(List.of(), Map.of(), Map.of(), Map.of());

    public Workload {
        cmd = List.copyOf(cmd);
        env = Map.copyOf(env);
        secrets = Map.copyOf(secrets);
        configFiles = Map.copyOf(configFiles);
    }

    @Override
    public String toString() {
        return "Workload[cmd=" + cmd + ", env=" + env.keySet() + ", secrets=" + secrets.keySet()
                + " (values hidden), configFiles=" + configFiles.keySet() + "]";
    }
}
