package io.mvm.store.pool;

import java.util.List;
import java.util.Map;

/**
 * What a pool's instances run: the guest command and environment, secrets for the secrets drive
 * and files for the config drive, and whether the node restarts an instance's VM when the command
 * exits ({@code restartOnExit}: services and daemons). {@link #toString()} never shows secret values.
 */
public record Workload(List<String> cmd, Map<String, String> env, Map<String, String> secrets,
                       Map<String, String> configFiles, boolean restartOnExit) {
    public static final Workload NONE = new Workload(List.of(), Map.of(), Map.of(), Map.of());

    /** A workload that is left alone when it exits. */
    public Workload(List<String> cmd, Map<String, String> env, Map<String, String> secrets,
                    Map<String, String> configFiles) {
        this(cmd, env, secrets, configFiles, false);
    }

    public Workload withRestartOnExit(boolean restart) {
        return new Workload(cmd, env, secrets, configFiles, restart);
    }

    public Workload {
        cmd = List.copyOf(cmd);
        env = Map.copyOf(env);
        secrets = Map.copyOf(secrets);
        configFiles = Map.copyOf(configFiles);
    }

    @Override
    public String toString() {
        return "Workload[cmd=" + cmd + ", env=" + env.keySet() + ", secrets=" + secrets.keySet()
                + " (values hidden), configFiles=" + configFiles.keySet() + ", restartOnExit=" + restartOnExit + "]";
    }
}
